// classroom-hub: parses argv and handles signals; everything else is in app.ts (DESIGN.md "Hub").
import { Command, InvalidArgumentError, Option } from 'commander';
import { registerAdminTokenCommand, registerAgentControlCommands } from './agents/cli.js';
import { AgentControlError } from './agents/control.js';
import { startHub } from './app.js';
import { Accounts, ProvisioningError } from './auth/accounts.js';
import { readAdminTokenFile } from './auth/admin-token.js';
import { registerBackupCommand } from './backup/cli.js';
import { ConfigError, DEFAULTS } from './config.js';
import type { Db } from './context.js';
import { type LogFormat, parseLogFormat } from './log.js';
import { registerAgentMoveCommand } from './registry/cli.js';
import { registerRetentionCommand } from './retention/cli.js';
import { policyFromOptions, retentionOptions } from './retention/policy.js';
import { registerRoomsCommand } from './rooms/cli.js';
import { registerScheduleCommand } from './schedule/cli.js';
import { auditCli, registerUsersCommand } from './staff/cli.js';
import { databaseOption } from './store/cli.js';
import { openStore } from './store/open.js';
import { migrateCore } from './store/schema.js';
import { certOptions, issueAgentCertificate, registerAgentCertCommand } from './tls/cert-cli.js';
import { registerTlsReload, tlsOptions } from './tls/cli.js';
import { VERSION } from './version.js';

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

const dataDirOption = () =>
  new Option('--data-dir <dir>', 'directory of the database and admin token')
    .env('CLASSROOM_HUB_DATA_DIR')
    .default(DEFAULTS.dataDir);

const program = new Command('classroom-hub')
  .description('Classroom hub: MQTT broker, ingest, availability, alarms, HTTP API and dashboard')
  .version(VERSION);

const serve = program
  .command('serve')
  .description('run the hub')
  .addOption(dataDirOption())
  .addOption(
    new Option('--host <host>', 'address to listen on').env('CLASSROOM_HUB_HOST').default(DEFAULTS.host),
  )
  .addOption(
    // No commander default: with TLS the plain listener runs only when this is given (docs/hub.md "TLS").
    new Option(
      '--mqtt-port <port>',
      `MQTT/TCP port (0 = any free port; default ${DEFAULTS.mqttPort}, none when --tls-cert is given)`,
    )
      .env('CLASSROOM_HUB_MQTT_PORT')
      .argParser(portArg),
  )
  .addOption(
    new Option('--http-port <port>', 'HTTP port, also MQTT over WebSocket at /mqtt (0 = any free port)')
      .env('CLASSROOM_HUB_HTTP_PORT')
      .argParser(portArg)
      .default(DEFAULTS.httpPort),
  )
  .addOption(
    new Option(
      '--admin-token <token>',
      'Bearer token of the HTTP API (default: generated, kept in the data dir)',
    ).env('CLASSROOM_HUB_ADMIN_TOKEN'),
  )
  .addOption(
    new Option(
      '--admin-token-file <file>',
      'read the Bearer token from this file (mode 0600), so it never appears on a command line',
    )
      .env('CLASSROOM_HUB_ADMIN_TOKEN_FILE')
      .conflicts('adminToken'),
  )
  .addOption(
    new Option('--broker <url>', 'external MQTT 5 broker (Mosquitto, EMQX) instead of the embedded one').env(
      'CLASSROOM_HUB_BROKER',
    ),
  )
  .addOption(databaseOption())
  .addOption(
    new Option(
      '--webhook-allow-private',
      'allow webhook targets on loopback, link-local, private and multicast addresses (refused by default)',
    ).env('CLASSROOM_HUB_WEBHOOK_ALLOW_PRIVATE'),
  )
  .addOption(
    new Option('--log-format <format>', 'auto: readable lines at a terminal, JSON lines otherwise')
      .env('CLASSROOM_LOG_FORMAT')
      .argParser((v) => {
        try {
          return parseLogFormat(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      })
      .default('auto'),
  );
for (const opt of retentionOptions()) serve.addOption(opt);
for (const option of tlsOptions(portArg)) serve.addOption(option);
serve.action(
  async (
    o: {
      dataDir: string;
      host: string;
      mqttPort?: number;
      mqttHost?: string;
      mqttsPort?: number;
      brokerCa?: string;
      tlsCert?: string;
      tlsKey?: string;
      httpPort: number;
      adminToken?: string;
      adminTokenFile?: string;
      webhookAllowPrivate?: boolean;
      broker?: string;
      database?: string;
      logFormat: LogFormat;
    },
    cmd: Command,
  ) => {
    let hub: Awaited<ReturnType<typeof startHub>>;
    try {
      const warnings: string[] = [];
      if (cmd.getOptionValueSource('adminToken') === 'cli')
        warnings.push(
          '--admin-token on the command line is visible to every user in ps; use --admin-token-file or CLASSROOM_HUB_ADMIN_TOKEN',
        );
      if (o.adminTokenFile) {
        const f = readAdminTokenFile(o.adminTokenFile);
        o.adminToken = f.token;
        if (f.warning) warnings.push(f.warning);
      }
      hub = await startHub({
        startupWarnings: warnings,
        webhookAllowPrivate: o.webhookAllowPrivate === true,
        dataDir: o.dataDir,
        host: o.host,
        ...(o.mqttPort !== undefined ? { mqttPort: o.mqttPort } : {}),
        ...(o.mqttHost !== undefined ? { mqttHost: o.mqttHost } : {}),
        ...(o.mqttsPort !== undefined ? { mqttsPort: o.mqttsPort } : {}),
        ...(o.brokerCa ? { brokerCa: o.brokerCa } : {}),
        ...(o.tlsCert || o.tlsKey ? { tls: { certFile: o.tlsCert ?? '', keyFile: o.tlsKey ?? '' } } : {}),
        httpPort: o.httpPort,
        ...(o.adminToken ? { adminToken: o.adminToken } : {}),
        broker: o.broker ?? null,
        database: o.database ?? null,
        retention: policyFromOptions(o),
        logFormat: o.logFormat,
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`classroom-hub: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
    let signals = 0;
    const onSignal = (signal: string) => {
      signals++;
      if (signals > 1) {
        hub.ctx.log.warn({ signal }, 'second signal: exiting without a clean stop');
        process.exit(1);
      }
      hub.stop().then(
        () => process.exit(0),
        (err) => {
          hub.ctx.log.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    registerTlsReload(hub);
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  },
);

async function withAccounts<T>(
  o: { dataDir: string; database?: string | undefined },
  fn: (a: Accounts, db: Db) => Promise<T>,
): Promise<T> {
  // A second connection to the hub's own store: with SQLite, WAL plus busy_timeout let it write while
  // the hub runs; with PostgreSQL (--database) it is just another client.
  const db = await openStore(o);
  try {
    await migrateCore(db);
    return await fn(new Accounts(db), db);
  } finally {
    await db.close();
  }
}

function fail(err: unknown): never {
  if (err instanceof ProvisioningError || err instanceof ConfigError || err instanceof AgentControlError) {
    console.error(`classroom-hub: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const agents = program.command('agents').description('manage agent (classroom box) accounts');
const agentsAdd = agents
  .command('add')
  .description('provision an agent; prints {"agent","username","password"} (works while the hub runs)')
  .requiredOption('--agent <id>', 'agent id, also its MQTT username')
  .requiredOption('--room <room>', 'room id the agent serves')
  .option('--name <name>', 'room display name until the agent’s birth tells the hub')
  .option('--rotate', 'issue a new password for an existing agent')
  .addOption(dataDirOption())
  .addOption(databaseOption());
for (const option of certOptions()) agentsAdd.addOption(option);
agentsAdd.action(
  async (o: {
    agent: string;
    room: string;
    name?: string;
    rotate?: boolean;
    dataDir: string;
    database?: string;
    cert?: boolean;
    certDir?: string;
    certDays?: number;
  }) => {
    const c = await withAccounts(o, async (a, db) => {
      const creds = await a.addAgent({ agent: o.agent, room: o.room, name: o.name, rotate: o.rotate });
      await auditCli(db, 'agent.provision', o.agent, {
        room: o.room,
        rotate: o.rotate ?? false,
        cert: o.cert ?? false,
      });
      // docs/hub.md "Client certificates": the certificate is issued once the account exists.
      return { creds, cert: o.cert ? await issueAgentCertificate(a, creds.agent, o) : null };
    }).catch(fail);
    const { agent, username, password } = c.creds;
    process.stdout.write(`${JSON.stringify({ agent, username, password, ...(c.cert ?? {}) })}\n`);
  },
);
registerAgentCertCommand(agents);

registerAgentMoveCommand(agents);

const storeCommands = {
  dataDirOption,
  databaseOption,
  withStore: <T>(o: { dataDir: string; database?: string | undefined }, fn: (db: Db) => Promise<T>) =>
    withAccounts(o, (_a, db) => fn(db)),
  fail,
};
registerAgentControlCommands(agents, storeCommands);
registerAdminTokenCommand(program, storeCommands);

const accounts = program.command('accounts').description('manage other MQTT accounts');
accounts
  .command('add')
  .description('create a platform account that may subscribe to classroom/v1/rooms/#; prints its credentials')
  .requiredOption('--platform <name>', 'account name, also its MQTT username')
  .option('--rotate', 'issue a new password for an existing account')
  .addOption(dataDirOption())
  .addOption(databaseOption())
  .action(async (o: { platform: string; rotate?: boolean; dataDir: string; database?: string }) => {
    const c = await withAccounts(o, async (a, db) => {
      const created = await a.addPlatform(o.platform, o.rotate ?? false);
      await auditCli(db, 'account.provision', o.platform, { role: 'platform', rotate: o.rotate ?? false });
      return created;
    }).catch(fail);
    process.stdout.write(
      `${JSON.stringify({ account: c.account, role: c.role, username: c.username, password: c.password })}\n`,
    );
  });

registerScheduleCommand(program);
registerRoomsCommand(program);
registerRetentionCommand(program);
registerBackupCommand(program);
registerUsersCommand(program);

await program.parseAsync();

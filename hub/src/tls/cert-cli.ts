// Client certificates for boxes from the hub's client CA (docs/hub.md "Client certificates"):
// `agents add --cert` and `agents cert --agent ID` write <cert-dir>/<agent>.pem and .key (0600) and record
// the serial, which replaces (revokes) any certificate issued to that agent before.
import { renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Accounts, ProvisioningError } from '../auth/accounts.js';
import { ConfigError, DEFAULTS } from '../config.js';
import { auditCli } from '../staff/cli.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';

export interface CertOptions {
  dataDir: string;
  certDir?: string | undefined;
  certDays?: number | undefined;
}

export interface IssuedFiles {
  certFile: string;
  keyFile: string;
  serial: string;
  notAfter: string;
}

/** Issues `agent` a certificate, writes it and its key, and makes it the agent's only valid one. */
export async function issueAgentCertificate(
  accounts: Accounts,
  agent: string,
  o: CertOptions,
): Promise<IssuedFiles> {
  // Refused before anything is written: an unknown agent must not leave a key behind.
  if (!(await accounts.isAgent(agent)))
    throw new ProvisioningError(`unknown agent "${agent.slice(0, 80)}"`, 'not_found');
  const { issueClientCertificate } = await import('./client-ca.js');
  const issued = await issueClientCertificate(resolve(o.dataDir), agent, {
    ...(o.certDays !== undefined ? { days: o.certDays } : {}),
  });
  const dir = resolve(o.certDir ?? '.');
  const certFile = join(dir, `${agent}.pem`);
  const keyFile = join(dir, `${agent}.key`);
  try {
    writeFileSync(`${keyFile}.tmp`, issued.key, { mode: 0o600 });
    writeFileSync(`${certFile}.tmp`, issued.certificate, { mode: 0o644 });
    renameSync(`${keyFile}.tmp`, keyFile);
    renameSync(`${certFile}.tmp`, certFile);
  } catch (err) {
    throw new ConfigError(
      `--cert-dir ${dir}: cannot write the certificate files (${(err as Error).message})`,
    );
  }
  await accounts.setCertificateSerial(agent, issued.serial);
  return { certFile, keyFile, serial: issued.serial, notAfter: issued.notAfter };
}

function daysArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError('must be 1-3650 days');
  return n;
}

/** The options `agents add` gains; main.ts adds them. */
export function certOptions(): Option[] {
  return [
    new Option('--cert', 'also issue a client certificate (CN = agent id) from the hub’s client CA'),
    new Option('--cert-dir <dir>', 'where --cert writes <agent>.pem and <agent>.key (default: .)'),
    new Option('--cert-days <n>', 'validity of the certificate (default 825)').argParser(daysArg),
  ];
}

/** `agents cert --agent ID`: (re-)issues the certificate of an existing agent. */
export function registerAgentCertCommand(agents: Command): void {
  agents
    .command('cert')
    .description(
      'issue a client certificate for an existing agent; the previous one stops working (works while the hub runs)',
    )
    .requiredOption('--agent <id>', 'agent id (the certificate’s CN)')
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database and the client CA')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption())
    .addOption(new Option('--cert-dir <dir>', 'where to write <agent>.pem and <agent>.key (default: .)'))
    .addOption(new Option('--cert-days <n>', 'validity (default 825)').argParser(daysArg))
    .action(async (o: CertOptions & { agent: string; database?: string }) => {
      const db = await openStore(o);
      try {
        await migrateCore(db);
        const files = await issueAgentCertificate(new Accounts(db), o.agent, o);
        await auditCli(db, 'agent.certificate', o.agent);
        process.stdout.write(`${JSON.stringify({ agent: o.agent, ...files })}\n`);
      } catch (err) {
        if (err instanceof ProvisioningError || err instanceof ConfigError) {
          console.error(`classroom-hub: ${err.message}`);
          process.exitCode = 2;
          return;
        }
        throw err;
      } finally {
        await db.close();
      }
    });
}

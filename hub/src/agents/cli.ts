// `classroom-hub agents reset-password|disable|enable` and `classroom-hub admin-token rotate`
// (DESIGN.md "Hub"). Each writes the store directly, like `agents add`, and works while the hub runs:
// the hub applies the change within its poll interval (auth/watch.ts, docs/hub.md "Secrets").
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { rotateAdminToken } from '../auth/admin-token.js';
import { ADMIN_TOKEN_FILE } from '../config.js';
import type { Db } from '../context.js';
import { resetAgentPassword, setAgentDisabled } from './control.js';

export interface StoreCommandDeps {
  dataDirOption(): Option;
  databaseOption(): Option;
  /** Opens and migrates the store, runs fn, closes it. */
  withStore<T>(o: { dataDir: string; database?: string | undefined }, fn: (db: Db) => Promise<T>): Promise<T>;
  fail(err: unknown): never;
}

type StoreOpts = { agent: string; dataDir: string; database?: string };

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

export function registerAgentControlCommands(agents: Command, d: StoreCommandDeps): void {
  agents
    .command('reset-password')
    .description(
      'issue a new password; prints {"agent","username","password"}; the old one is refused and the live session closed',
    )
    .requiredOption('--agent <id>', 'agent id')
    .addOption(d.dataDirOption())
    .addOption(d.databaseOption())
    .action(async (o: StoreOpts) => {
      print(await d.withStore(o, (db) => resetAgentPassword(db, o.agent)).catch(d.fail));
    });
  for (const [name, disabled, what] of [
    ['disable', true, 'close the box’s live connection and refuse new ones'],
    ['enable', false, 'let a disabled box connect again'],
  ] as const) {
    agents
      .command(name)
      .description(`${what}; prints {"agent","disabled"} (works while the hub runs)`)
      .requiredOption('--agent <id>', 'agent id')
      .addOption(d.dataDirOption())
      .addOption(d.databaseOption())
      .action(async (o: StoreOpts) => {
        print(await d.withStore(o, (db) => setAgentDisabled(db, o.agent, disabled)).catch(d.fail));
      });
  }
}

export function registerAdminTokenCommand(program: Command, d: StoreCommandDeps): void {
  const cmd = program.command('admin-token').description('manage the admin token of the HTTP API');
  cmd
    .command('rotate')
    .description(
      'issue a new admin token; prints {"adminToken"}; the running hub accepts it and refuses the old one within seconds',
    )
    .option('--admin-token-file <file>', 'also write the new token to this file (mode 0600)')
    .addOption(d.dataDirOption())
    .addOption(d.databaseOption())
    .action(async (o: { adminTokenFile?: string; dataDir: string; database?: string }) => {
      // With SQLite the data dir's token file is the hub's default token source: keep it current.
      const files = [
        ...(o.database ? [] : [join(o.dataDir, ADMIN_TOKEN_FILE)]),
        ...(o.adminTokenFile ? [o.adminTokenFile] : []),
      ];
      const token = await d.withStore(o, (db) => rotateAdminToken(db, files)).catch(d.fail);
      print({ adminToken: token, files });
    });
}

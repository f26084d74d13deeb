// `classroom-hub users …` (DESIGN.md "Hub"): staff accounts from the hub's own machine. Like `agents add`
// it writes the store directly, so it works while the hub runs; every change is audited as `cli`.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { AuditLog } from '../audit/log.js';
import { ConfigError, DEFAULTS } from '../config.js';
import { type Db, systemClock } from '../context.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';
import { CLI_ACTOR, STAFF_ROLES, type StaffRole } from './roles.js';
import { StaffUserError, StaffUsers } from './users.js';

/** Records a provisioning action done with the CLI (docs/hub-people.md, "Audit log"). */
export async function auditCli(
  db: Db,
  action: string,
  target: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await new AuditLog(db, systemClock).record({
    actor: CLI_ACTOR,
    role: 'admin',
    action,
    target,
    detail,
    ip: null,
  });
}

function roleArg(v: string): StaffRole {
  if (!(STAFF_ROLES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${STAFF_ROLES.join(', ')}`);
  return v as StaffRole;
}

interface StoreOptions {
  dataDir: string;
  database?: string;
}

async function withUsers<T>(o: StoreOptions, fn: (users: StaffUsers, db: Db) => Promise<T>): Promise<T> {
  const db = await openStore(o);
  try {
    await migrateCore(db);
    return await fn(new StaffUsers(db), db);
  } finally {
    await db.close();
  }
}

function fail(err: unknown): never {
  if (err instanceof StaffUserError || err instanceof ConfigError) {
    console.error(`classroom-hub: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

export function registerUsersCommand(program: Command): void {
  const dataDir = () =>
    new Option('--data-dir <dir>', 'directory of the database and admin token')
      .env('CLASSROOM_HUB_DATA_DIR')
      .default(DEFAULTS.dataDir);
  const users = program.command('users').description('manage staff accounts of the dashboard and API');
  users
    .command('add')
    .description('create a staff user; prints {"name","role","password"} (works while the hub runs)')
    .requiredOption('--name <name>', 'login name')
    .addOption(
      new Option('--role <role>', 'viewer, operator or admin').argParser(roleArg).makeOptionMandatory(),
    )
    .option('--rotate', 'issue a new password (and set the role) for an existing user')
    .addOption(dataDir())
    .addOption(databaseOption())
    .action(async (o: StoreOptions & { name: string; role: StaffRole; rotate?: boolean }) => {
      const c = await withUsers(o, async (u, db) => {
        const created = await u.add({ name: o.name, role: o.role, rotate: o.rotate });
        await auditCli(db, 'user.add', o.name, { role: o.role, rotate: o.rotate ?? false });
        return created;
      }).catch(fail);
      process.stdout.write(`${JSON.stringify({ name: c.name, role: c.role, password: c.password })}\n`);
    });
  users
    .command('disable')
    .description('disable a staff user and end their sessions')
    .requiredOption('--name <name>', 'login name')
    .addOption(dataDir())
    .addOption(databaseOption())
    .action(async (o: StoreOptions & { name: string }) => {
      const u = await withUsers(o, async (users, db) => {
        const disabled = await users.disable(o.name);
        await auditCli(db, 'user.disable', o.name);
        return disabled;
      }).catch(fail);
      process.stdout.write(`${JSON.stringify(u)}\n`);
    });
  users
    .command('list')
    .description('list staff users as JSON lines (no passwords)')
    .addOption(dataDir())
    .addOption(databaseOption())
    .action(async (o: StoreOptions) => {
      const list = await withUsers(o, (u) => u.list()).catch(fail);
      for (const u of list) process.stdout.write(`${JSON.stringify(u)}\n`);
    });
}

// `classroom-hub agents move --agent ID --room ROOM [--name N] [--data-dir D | --database URL]`: writes the
// agent's provisioned room straight into the store, so it works whether or not the hub runs; a running
// hub picks the change up within seconds (registry/provisioned-rooms.ts). Prints
// {"agent","room","previousRoom"}.
import { type Command, Option } from 'commander';
import { Accounts, ProvisioningError } from '../auth/accounts.js';
import { ConfigError, DEFAULTS } from '../config.js';
import { auditCli } from '../staff/cli.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';

export interface MoveOptions {
  agent: string;
  room: string;
  name?: string | undefined;
  dataDir: string;
  database?: string | undefined;
}

export async function moveAgent(
  o: MoveOptions,
): Promise<{ agent: string; room: string; previousRoom: string | null }> {
  const db = await openStore(o);
  try {
    await migrateCore(db);
    const moved = await new Accounts(db).moveAgent(o.agent, o.room, { name: o.name });
    await auditCli(db, 'agent.move', o.agent, { room: o.room, previousRoom: moved.previousRoom });
    return moved;
  } finally {
    await db.close();
  }
}

/** Adds `move` to the `agents` command; main.ts calls this once before parsing. */
export function registerAgentMoveCommand(agents: Command): void {
  agents
    .command('move')
    .description(
      'move an agent to another room: what it sends from now on is filed there (works while the hub runs)',
    )
    .requiredOption('--agent <id>', 'agent id')
    .requiredOption('--room <room>', 'the new room id')
    .option('--name <name>', 'room display name until the agent’s birth names the room')
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database and admin token')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption())
    .action(async (o: MoveOptions) => {
      try {
        process.stdout.write(`${JSON.stringify(await moveAgent(o))}\n`);
      } catch (err) {
        if (err instanceof ProvisioningError || err instanceof ConfigError) {
          console.error(`classroom-hub: ${err.message}`);
          process.exit(err instanceof ProvisioningError && err.code === 'not_found' ? 3 : 2);
        }
        throw err;
      }
    });
}

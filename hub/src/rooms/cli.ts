// `classroom-hub rooms import --file rooms.csv [--data-dir D | --database URL]`: loads the platform's
// room registry straight into the store, so it works whether or not the hub runs (a running hub
// notices within seconds, rooms/module.ts). Prints {rooms, added, updated, unchanged, removed}; any
// bad line exits 2 with every bad line on stderr and the previous registry kept.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type Command, Option } from 'commander';
import { ConfigError, DEFAULTS } from '../config.js';
import { auditCli } from '../staff/cli.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';
import { parseRoomsCsv, parseRoomsJson, RoomsImportError } from './parse.js';
import { type ImportResult, importRegistryRooms } from './store.js';

export interface RoomsImportOptions {
  file: string;
  dataDir: string;
  database?: string | undefined;
}

export async function importRoomsFile(o: RoomsImportOptions): Promise<ImportResult> {
  const content = await readFile(o.file, 'utf8');
  let rooms: ReturnType<typeof parseRoomsCsv>;
  if (extname(o.file).toLowerCase() === '.json') {
    let rows: unknown;
    try {
      rows = JSON.parse(content);
    } catch (err) {
      throw new RoomsImportError([{ line: 0, reason: `not JSON: ${(err as Error).message}` }]);
    }
    if (!Array.isArray(rows))
      throw new RoomsImportError([{ line: 0, reason: 'expected a JSON array of rooms' }]);
    rooms = parseRoomsJson(rows);
  } else {
    rooms = parseRoomsCsv(content);
  }
  const db = await openStore(o);
  try {
    const res = await importRegistryRooms(db, rooms, Date.now());
    // Audited like the API's PUT /api/rooms (docs/hub-staff.md, "Audit log").
    await migrateCore(db);
    await auditCli(db, 'rooms.import', 'registry', { ...res });
    return res;
  } finally {
    await db.close();
  }
}

export function registerRoomsCommand(program: Command): void {
  const rooms = program.command('rooms').description("manage the platform's room registry");
  rooms
    .command('import')
    .description(
      'replace the room registry with a CSV (id,name,building,floor,campus,capacity) or JSON file; prints {rooms, added, updated, unchanged, removed}',
    )
    .requiredOption('--file <file>', 'registry file (.csv, or .json for an array of rooms)')
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption())
    .action(async (o: RoomsImportOptions) => {
      try {
        process.stdout.write(`${JSON.stringify(await importRoomsFile(o))}\n`);
      } catch (err) {
        if (err instanceof RoomsImportError) {
          for (const e of err.errors) console.error(`classroom-hub: ${o.file}:${e.line}: ${e.reason}`);
          program.error(
            `classroom-hub: room registry not imported (${err.errors.length} bad line(s)); the previous registry is kept`,
            { exitCode: 2 },
          );
        }
        if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          program.error(`classroom-hub: ${(err as Error).message}`, { exitCode: 2 });
        }
        throw err;
      }
    });
}

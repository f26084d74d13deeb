// `classroom-hub schedule import --room R --file F [--format ics|csv] [--data-dir D]`: writes the
// timetable straight into the store, like `agents add`, so it works whether or not the hub runs
// (the running hub reads due periods from the store on every pass).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type Command, Option } from 'commander';
import { ConfigError, DEFAULTS } from '../config.js';
import { auditCli } from '../staff/cli.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';
import { type ScheduleFormat, ScheduleParseError } from './parse.js';
import { importSchedule } from './store.js';

export interface ScheduleImportOptions {
  dataDir: string;
  /** PostgreSQL URL (`--database`); the SQLite file in dataDir when absent. */
  database?: string | undefined;
  room: string;
  file: string;
  format?: ScheduleFormat | undefined;
}

export function formatFromFile(file: string): ScheduleFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.ics' || ext === '.ical') return 'ics';
  if (ext === '.csv') return 'csv';
  throw new Error(`cannot tell the format of "${file}" from its extension; pass --format ics|csv`);
}

export async function importScheduleFile(
  o: ScheduleImportOptions,
): Promise<{ room: string; periods: number; first: number | null; last: number | null }> {
  const format = o.format ?? formatFromFile(o.file);
  const content = await readFile(o.file, 'utf8');
  const db = await openStore(o);
  try {
    const res = await importSchedule(db, o.room, format, content, Date.now());
    // Audited like the API's PUT /api/rooms/{room}/schedule (docs/hub-staff.md, "Audit log").
    await migrateCore(db);
    await auditCli(db, 'schedule.set', o.room, { format, periods: res.periods });
    return res;
  } finally {
    await db.close();
  }
}

/**
 * Adds `schedule import` to the hub's CLI; main.ts calls this once before parsing. Prints the import
 * result as one JSON line; a bad file exits 2 with the parse error (line or event named).
 */
export function registerScheduleCommand(program: Command): void {
  const schedule = program.command('schedule').description("manage rooms' class timetables");
  schedule
    .command('import')
    .description(
      "replace a room's timetable with an iCalendar (.ics) or CSV file; prints {room, periods, first, last}",
    )
    .requiredOption('--room <room>', 'room id')
    .requiredOption('--file <file>', 'timetable file (.ics or .csv)')
    .addOption(
      new Option('--format <format>', 'file format (default: from the extension)').choices(['ics', 'csv']),
    )
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption())
    .action(
      async (o: {
        room: string;
        file: string;
        format?: ScheduleFormat;
        dataDir: string;
        database?: string;
      }) => {
        try {
          const res = await importScheduleFile({
            dataDir: o.dataDir,
            database: o.database,
            room: o.room,
            file: o.file,
            format: o.format,
          });
          process.stdout.write(`${JSON.stringify(res)}\n`);
        } catch (err) {
          if (
            err instanceof ScheduleParseError ||
            err instanceof ConfigError ||
            (err as NodeJS.ErrnoException).code === 'ENOENT'
          ) {
            program.error(`classroom-hub: ${(err as Error).message}`, { exitCode: 2 });
          }
          throw err;
        }
      },
    );
}

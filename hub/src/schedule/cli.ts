// `classroom-hub schedule import --room R --file F [--format ics|csv] [--data-dir D]`: writes the
// timetable straight into the store, like `agents add`, so it works whether or not the hub runs
// (the running hub reads due periods from the store on every pass).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { databaseFile } from '../config.js';
import { SqliteDb } from '../store/sqlite.js';
import type { ScheduleFormat } from './parse.js';
import { importSchedule } from './store.js';

export interface ScheduleImportOptions {
  dataDir: string;
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
  const db = new SqliteDb(databaseFile(o.dataDir));
  await db.open();
  try {
    return await importSchedule(db, o.room, format, content, Date.now());
  } finally {
    await db.close();
  }
}

// The platform's room registry as it arrives: a CSV file with the header `id,name,building,floor,campus,
// capacity` or a JSON array of the same fields (docs/hub-people.md "Room registry"). Every bad line is
// reported with its line number and reason, so one pass over the file finds all of its problems.
import { parse } from 'csv-parse/sync';
import { z } from 'zod';

/** Room ids as the topics allow them (DESIGN.md "Topics": an id segment). */
const RoomId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'id must be 1-64 letters, digits, ".", "_" or "-"');
const Label = z.string().max(256, 'at most 256 characters');

export const RegistryRoom = z.object({
  id: RoomId,
  name: Label.min(1, 'name is empty'),
  building: Label,
  floor: Label,
  campus: Label,
  capacity: z.number().int('capacity must be a whole number').min(0).max(100_000).nullable(),
});
export type RegistryRoom = z.infer<typeof RegistryRoom>;

export const COLUMNS = ['id', 'name', 'building', 'floor', 'campus', 'capacity'] as const;
/** A registry larger than any campus; bounds the work one import can ask of the hub. */
export const MAX_ROOMS = 20_000;

export interface LineError {
  line: number;
  reason: string;
}

export class RoomsImportError extends Error {
  constructor(readonly errors: LineError[]) {
    super(
      `room registry not imported, ${errors.length} bad line(s): ${errors
        .slice(0, 5)
        .map((e) => `line ${e.line}: ${e.reason}`)
        .join('; ')}${errors.length > 5 ? '; …' : ''}`,
    );
  }
}

function capacityOf(raw: unknown): unknown {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'number') return raw;
  const s = String(raw).trim();
  if (s === '') return null;
  return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : Number.NaN;
}

/** Validates rows, each with the line it came from; throws RoomsImportError naming every bad one. */
function validate(rows: Array<{ line: number; value: Record<string, unknown> }>): RegistryRoom[] {
  const errors: LineError[] = [];
  const seen = new Map<string, number>();
  const rooms: RegistryRoom[] = [];
  if (rows.length > MAX_ROOMS)
    throw new RoomsImportError([{ line: 0, reason: `more than ${MAX_ROOMS} rooms` }]);
  for (const { line, value } of rows) {
    const str = (k: string) => (value[k] === undefined || value[k] === null ? '' : String(value[k]).trim());
    const r = RegistryRoom.safeParse({
      id: str('id'),
      name: str('name'),
      building: str('building'),
      floor: str('floor'),
      campus: str('campus'),
      capacity: capacityOf(value.capacity),
    });
    if (!r.success) {
      const reason = r.error.issues
        .map(
          (i) =>
            `${i.path.join('.') || 'row'}: ${i.code === 'invalid_type' && i.path[0] === 'capacity' ? 'capacity must be a whole number' : i.message}`,
        )
        .join(', ');
      errors.push({ line, reason });
      continue;
    }
    const first = seen.get(r.data.id);
    if (first !== undefined) {
      errors.push({ line, reason: `id "${r.data.id}" repeats line ${first}` });
      continue;
    }
    seen.set(r.data.id, line);
    rooms.push(r.data);
  }
  if (errors.length > 0) throw new RoomsImportError(errors);
  return rooms;
}

export function parseRoomsCsv(content: string): RegistryRoom[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // `info` gives each record's line: with quoted newlines a record may span several lines.
    records = parse(content, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      info: true,
    }) as unknown as typeof records;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new RoomsImportError([{ line: e.lines ?? 0, reason: `not CSV: ${e.message}` }]);
  }
  const header = (records[0]?.record ?? []).map((h) => h.toLowerCase());
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new RoomsImportError([
      { line: 1, reason: `header lacks ${missing.join(', ')} (expected ${COLUMNS.join(',')})` },
    ]);
  }
  const errors: LineError[] = [];
  const rows: Array<{ line: number; value: Record<string, unknown> }> = [];
  for (const { record, info } of records.slice(1)) {
    if (record.length !== header.length) {
      errors.push({ line: info.lines, reason: `${record.length} fields, the header has ${header.length}` });
      continue;
    }
    const value: Record<string, unknown> = {};
    header.forEach((h, i) => {
      value[h] = record[i];
    });
    rows.push({ line: info.lines, value });
  }
  try {
    const rooms = validate(rows);
    if (errors.length > 0) throw new RoomsImportError(errors);
    return rooms;
  } catch (err) {
    if (err instanceof RoomsImportError && errors.length > 0 && err.errors !== errors) {
      throw new RoomsImportError([...errors, ...err.errors].sort((x, y) => x.line - y.line));
    }
    throw err;
  }
}

/** A JSON array of rooms; "line" is then the 1-based position in the array. */
export function parseRoomsJson(rows: unknown[]): RegistryRoom[] {
  return validate(
    rows.map((value, i) => ({
      line: i + 1,
      value: value && typeof value === 'object' ? (value as Record<string, unknown>) : {},
    })),
  );
}

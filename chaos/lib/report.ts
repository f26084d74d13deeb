// A chaos case's row in RELIABILITY.md (rendered by chaos/reliability.mjs at the end of the run).
import { upsertCase } from '../reliability.mjs';
import type { Tally } from './ledger.mjs';

export interface CaseRow {
  id: string;
  /** Position in the table. */
  order: number;
  title: string;
  load: string;
  faults: string;
  produced: number;
  stored: number;
  lost: number;
  duplicated: number;
  reportedDropped: number;
  durationS: number;
  passed: boolean;
  failure?: string;
  notes?: string[];
  ranAt: string;
}

export interface CaseMeta {
  id: string;
  order: number;
  title: string;
  load: string;
}

/**
 * Runs a case body and records its row whatever happens: a case that throws is recorded as failed
 * with its reason, and the error is rethrown for vitest.
 */
export async function chaosCase(
  meta: CaseMeta,
  body: (c: { faults: string[]; notes: string[]; setLoad(s: string): void }) => Promise<Tally>,
): Promise<Tally> {
  const started = Date.now();
  const faults: string[] = [];
  const notes: string[] = [];
  let load = meta.load;
  let tally: Tally | null = null;
  let failure: string | undefined;
  try {
    tally = await body({ faults, notes, setLoad: (s) => (load = s) });
    if (tally.lost > 0 || tally.duplicated > 0 || tally.unexpected > 0) {
      failure = `${tally.lost} lost, ${tally.duplicated} duplicated, ${tally.unexpected} unexpected; lost seqs: ${JSON.stringify(tally.lostSample).slice(0, 300)}`;
    }
    return tally;
  } catch (err) {
    failure = (err as Error).message.split('\n')[0]?.slice(0, 300);
    throw err;
  } finally {
    const row: CaseRow = {
      ...meta,
      load,
      faults: faults.join('; '),
      produced: tally?.produced ?? 0,
      stored: tally?.stored ?? 0,
      lost: tally?.lost ?? 0,
      duplicated: tally?.duplicated ?? 0,
      reportedDropped: tally?.reportedDropped ?? 0,
      durationS: (Date.now() - started) / 1000,
      passed: failure === undefined,
      ...(failure ? { failure } : {}),
      notes,
      ranAt: new Date().toISOString(),
    };
    upsertCase(row);
  }
}

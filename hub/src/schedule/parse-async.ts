// Parses a timetable off the main thread (docs/hub-people.md "Schedules"): in a worker with a hard
// deadline, on top of the step and time bounds of the expansion itself (parse.ts). When the compiled
// worker is absent (tests run the TypeScript sources), it parses inline with the same bounds.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type ParseOptions,
  type Period,
  parseSchedule,
  type ScheduleFormat,
  ScheduleParseError,
} from './parse.js';

/** The worker is terminated after this long, whatever it is doing. */
export const WORKER_DEADLINE_MS = 10_000;

const WORKER_FILE = fileURLToPath(new URL('./parse-worker.js', import.meta.url));

type Reply = { ok: true; periods: Period[] } | { ok: false; parseError: boolean; message: string };

export function parseScheduleOffThread(
  format: ScheduleFormat,
  text: string,
  opts: ParseOptions,
  deadlineMs = WORKER_DEADLINE_MS,
): Promise<Period[]> {
  if (!existsSync(WORKER_FILE)) return Promise.resolve().then(() => parseSchedule(format, text, opts));
  return new Promise<Period[]>((resolve, reject) => {
    const worker = new Worker(WORKER_FILE, { workerData: { format, text, opts } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new ScheduleParseError(
              `the timetable took longer than ${deadlineMs} ms to expand; split it or start its rules nearer the term`,
            ),
          ),
        ),
      deadlineMs,
    );
    worker.once('message', (r: Reply) =>
      settle(() => {
        if (r.ok) resolve(r.periods);
        else reject(r.parseError ? new ScheduleParseError(r.message) : new Error(r.message));
      }),
    );
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) =>
      settle(() => reject(new Error(`timetable parser exited with code ${code} before answering`))),
    );
  });
}

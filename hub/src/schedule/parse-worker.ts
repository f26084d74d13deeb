// Worker thread that parses one timetable (schedule/parse-async.ts), so that a costly iCalendar expansion
// never holds the hub's event loop: MQTT ingest and the API go on while it runs.
import { parentPort, workerData } from 'node:worker_threads';
import { type ParseOptions, parseSchedule, type ScheduleFormat, ScheduleParseError } from './parse.js';

const job = workerData as { format: ScheduleFormat; text: string; opts: ParseOptions };
try {
  parentPort?.postMessage({ ok: true, periods: parseSchedule(job.format, job.text, job.opts) });
} catch (err) {
  parentPort?.postMessage({
    ok: false,
    parseError: err instanceof ScheduleParseError,
    message: err instanceof Error ? err.message : String(err),
  });
}

import { writeFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { locateFfmpeg } from '../ffmpeg/locate.js';
import { redactCredentials } from '../redact.js';
import { annotateFrame } from './annotate.js';
import { PeopleDetector } from './detector.js';
import { grabFrame } from './grab.js';
import type { ScoredBox } from './scales.js';

export interface OccupancyCheckOptions {
  config: string;
  source: string;
  expected?: number;
  out?: string;
  /** Tests: a misconfigured detector. */
  detector?: PeopleDetector;
}

export interface OccupancyCheckResult {
  source: string;
  people: number | null;
  boxes: ScoredBox[];
  ms: number | null;
  backend: string | null;
  expected?: number;
  out?: string;
  error?: string;
}

/**
 * `classroom-agent occupancy-check` (DESIGN.md "Agent"): counts what a camera sees now, for
 * calibration at install time. The annotated frame is written only to `out` on this box.
 */
export async function occupancyCheck(o: OccupancyCheckOptions): Promise<OccupancyCheckResult> {
  const result: OccupancyCheckResult = { source: o.source, people: null, boxes: [], ms: null, backend: null };
  if (o.expected !== undefined) result.expected = o.expected;
  const cfg = loadConfig(o.config);
  if (!cfg.ok) return { ...result, error: `${o.config}: invalid config: ${cfg.errors.join('; ')}` };
  const source = cfg.config.sources.find((s) => s.id === o.source);
  if (!source) return { ...result, error: `no source "${o.source}" in ${o.config}` };
  if (source.kind !== 'camera')
    return { ...result, error: `source "${o.source}" is a microphone: no picture` };
  const detector = o.detector ?? new PeopleDetector();
  try {
    const ffmpeg = locateFfmpeg().ffmpeg.path;
    const [frame, init] = await Promise.all([grabFrame(ffmpeg, source), detector.start()]);
    result.backend = init.backend;
    const r = await detector.count(frame);
    result.people = r.people;
    result.boxes = r.boxes;
    result.ms = r.ms;
    if (o.out) {
      writeFileSync(o.out, annotateFrame(frame, r.boxes), { mode: 0o600 });
      result.out = o.out;
    }
  } catch (err) {
    result.error = redactCredentials((err as Error).message);
  } finally {
    await detector.stop();
  }
  return result;
}

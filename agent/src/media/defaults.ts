import type { Thresholds } from '@classroom/protocol';

/**
 * Defaults for every detection threshold (DESIGN.md "Agent": thresholds with sane defaults; docs/agent-media.md "What is measured").
 * - black: blackdetect's own defaults (98 % of pixels at or below 10 % luma) held for 2 s;
 * - frozen: a -50 dB (0.3 %) mean difference between analysed frames held for 10 s (freezedetect's
 *   -60 dB suits raw video; re-encoded keyframes of a still picture differ by ~0.1 %), because an empty classroom is
 *   legitimately still for a few seconds but a live camera always has some sensor noise;
 * - silence: the loudest channel below -50 dBFS RMS for 10 s (a quiet room sits around -60..-45);
 * - stale: 10 s without any packet from ffmpeg (docs/agent-media.md "Supervision");
 * - detection delay: a video fault may be reported up to 15 s after its minimum duration, half the
 *   hub's default alarm raise delay (30 s, docs/hub-people.md "Alarms"), so that staff see the alarm
 *   at most a few seconds later than with an instant report while a 4 s GOP with B-frames still
 *   decodes keyframes only (docs/agent-media.md "Cost").
 */
export const DEFAULT_THRESHOLDS: Required<Thresholds> = {
  blackPixelRatio: 0.98,
  blackLuma: 0.1,
  blackMinS: 2,
  frozenNoiseDb: -50,
  frozenMinS: 10,
  silenceDb: -50,
  silenceMinS: 10,
  sourceStaleS: 10,
  maxDetectionDelayS: 15,
};

/** Fills every missing threshold with its default. */
export function withDefaults(t: Thresholds | undefined): Required<Thresholds> {
  const out = { ...DEFAULT_THRESHOLDS };
  for (const [k, v] of Object.entries(t ?? {})) {
    if (typeof v === 'number') (out as Record<string, number>)[k] = v;
  }
  return out;
}

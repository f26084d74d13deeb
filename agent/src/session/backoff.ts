export interface BackoffOptions {
  /** First retry delay. */
  baseMs: number;
  /** Ceiling of the exponential growth. */
  maxMs: number;
  /** A connection that stayed up this long resets the attempt counter. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 60_000, stableMs: 10_000 };

/**
 * Exponential backoff with "equal jitter": the delay is uniformly drawn from [cap/2, cap] with
 * cap = min(max, base·2^attempt). The random half spreads a campus of boxes that lost the hub at
 * the same instant (docs/agent.md "MQTT session": no thundering herd); the fixed half keeps a single box from
 * hammering a dead broker.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const cap = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

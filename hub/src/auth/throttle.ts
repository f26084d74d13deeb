// Failed-login throttling (DESIGN.md "Access control"; docs/hub.md "Abuse limits"). Failures are counted
// per source address and per (address, username); past a few free failures each key is blocked for a
// delay that doubles with every further failure, up to a ceiling of minutes. Keys never span addresses,
// so failures from one address cannot lock out a box that logs in from its own. Time comes from the
// injected clock, so the backoff is unit-tested with fake timers.
import type { Clock } from '../context.js';

export interface ThrottleOptions {
  /** Failures from one address, over all usernames, before the address is slowed down. */
  addressFreeFailures: number;
  /** Failures of one username from one address before that pair is slowed down. */
  userFreeFailures: number;
  /** The first block; each further failure doubles it. */
  baseDelayMs: number;
  /** The ceiling of the doubling. */
  maxDelayMs: number;
  /** A key with no failure for this long is forgotten (its count starts over). */
  forgetAfterMs: number;
  /** Most keys kept; the least recently failed are dropped beyond it, so memory stays bounded. */
  maxKeys: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  addressFreeFailures: 10,
  userFreeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 5 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxKeys: 100_000,
};

export type ThrottleDecision =
  | { ok: true }
  | { ok: false; scope: 'address' | 'address_user'; retryAfterMs: number };

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

/** Usernames longer than any valid one are cut, so a key's size is bounded whatever the client sends. */
const USERNAME_KEY_MAX = 64;

export class LoginThrottle {
  private readonly keys = new Map<string, Entry>();

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly opts: ThrottleOptions = DEFAULT_THROTTLE,
  ) {}

  /** Whether a login from `address` as `username` may be checked now. */
  check(address: string, username: string): ThrottleDecision {
    const now = this.clock.now();
    const a = this.live(addrKey(address), now);
    if (a && a.blockedUntil > now) return { ok: false, scope: 'address', retryAfterMs: a.blockedUntil - now };
    const u = this.live(userKey(address, username), now);
    if (u && u.blockedUntil > now)
      return { ok: false, scope: 'address_user', retryAfterMs: u.blockedUntil - now };
    return { ok: true };
  }

  /** Records a failed login (unknown username or wrong password). */
  failure(address: string, username: string): void {
    const now = this.clock.now();
    this.bump(addrKey(address), this.opts.addressFreeFailures, now);
    this.bump(userKey(address, username), this.opts.userFreeFailures, now);
  }

  /**
   * A login that succeeded clears its (address, username) key. The address key stays: one valid
   * account must not let an address reset its count between guesses at other usernames.
   */
  success(address: string, username: string): void {
    this.keys.delete(userKey(address, username));
  }

  /** Keys currently held (for the metrics gauge). */
  size(): number {
    return this.keys.size;
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.keys.get(key);
    if (e && now - e.lastFailure >= this.opts.forgetAfterMs && e.blockedUntil <= now) {
      this.keys.delete(key);
      return undefined;
    }
    return e;
  }

  private bump(key: string, free: number, now: number): void {
    const e = this.live(key, now) ?? { failures: 0, lastFailure: now, blockedUntil: 0 };
    e.failures++;
    e.lastFailure = now;
    if (e.failures > free) {
      // 2^k overflows to Infinity long after the ceiling is reached; min() keeps it finite.
      const delay = Math.min(this.opts.baseDelayMs * 2 ** (e.failures - free - 1), this.opts.maxDelayMs);
      e.blockedUntil = now + delay;
    }
    // Re-insert so that Map order is least recently failed first, then evict from the front.
    this.keys.delete(key);
    this.keys.set(key, e);
    while (this.keys.size > this.opts.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest === undefined) break;
      this.keys.delete(oldest);
    }
  }
}

function addrKey(address: string): string {
  return `a\u0000${address}`;
}

function userKey(address: string, username: string): string {
  return `u\u0000${address}\u0000${username.slice(0, USERNAME_KEY_MAX)}`;
}

// Failed staff logins are throttled per source address and per (address, name), as the broker does
// for MQTT logins (DESIGN.md, "A box is only itself"): a guesser from one address is slowed without
// locking the named user out for everyone else.
import type { Clock } from '../context.js';

export interface ThrottleLimits {
  windowMs: number;
  perAddress: number;
  perAddressAndName: number;
}

export const DEFAULT_LOGIN_LIMITS: ThrottleLimits = {
  windowMs: 15 * 60_000,
  perAddress: 20,
  perAddressAndName: 5,
};

/** Bounded, so that a flood of addresses cannot grow it without end. */
const MAX_KEYS = 10_000;

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: ThrottleLimits = DEFAULT_LOGIN_LIMITS,
  ) {}

  private recent(key: string): number[] {
    const since = this.clock.now() - this.limits.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Milliseconds until a login from this address for this name may be tried again; 0 when now. */
  retryAfterMs(ip: string, name: string): number {
    const checks: Array<[string, number]> = [
      [`a:${ip}`, this.limits.perAddress],
      [`n:${ip}\u0000${name}`, this.limits.perAddressAndName],
    ];
    let wait = 0;
    for (const [key, limit] of checks) {
      const list = this.recent(key);
      if (list.length >= limit) {
        const oldest = list[list.length - limit] ?? this.clock.now();
        wait = Math.max(wait, oldest + this.limits.windowMs - this.clock.now());
      }
    }
    return wait;
  }

  fail(ip: string, name: string): void {
    if (this.failures.size >= MAX_KEYS) this.failures.clear();
    for (const key of [`a:${ip}`, `n:${ip}\u0000${name}`]) {
      const list = this.failures.get(key) ?? [];
      list.push(this.clock.now());
      this.failures.set(key, list);
    }
  }

  /** A successful login forgets that name's failures from that address (not the address's). */
  succeed(ip: string, name: string): void {
    this.failures.delete(`n:${ip}\u0000${name}`);
  }
}

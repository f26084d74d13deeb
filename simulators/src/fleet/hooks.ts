import type { Rng } from './random.js';

export interface FleetOptions {
  windowS: number;
  telemetryIntervalS: number;
  keepaliveS: number;
  /** Resend unacked records when nothing was acked for this long. */
  ackTimeoutMs: number;
  maxOutbox: number;
  /** Probability that a records batch is published twice. */
  duplicateRate: number;
  /** Probability per agent and window of also publishing one malformed message. */
  malformedRate: number;
  /** Each agent's clock is off by a fixed amount drawn from [-clockSkewMs, clockSkewMs]. */
  clockSkewMs: number;
  /** Probability per agent and window that a media fault (black, frozen, silent) begins. */
  mediaFaultRate: number;
}

export interface FleetStats {
  telemetry: number;
  records: number;
  batches: number;
  acked: number;
  duplicates: number;
  /** Malformed messages the broker acknowledged (PUBACK). */
  malformed: number;
  /** Malformed messages lost with their connection before the broker took them. */
  malformedLost: number;
  dropped: number;
  commands: number;
  connects: number;
  disconnects: number;
  injectedDisconnects: number;
  errors: number;
  badInbound: number;
}

export function emptyStats(): FleetStats {
  return {
    telemetry: 0,
    records: 0,
    batches: 0,
    acked: 0,
    duplicates: 0,
    malformed: 0,
    malformedLost: 0,
    dropped: 0,
    commands: 0,
    connects: 0,
    disconnects: 0,
    injectedDisconnects: 0,
    errors: 0,
    badInbound: 0,
  };
}

/** What a fleet agent may call on its fleet: shared clock, randomness, counters and callbacks. */
export interface FleetHooks {
  options: FleetOptions;
  stats: FleetStats;
  now(): number;
  rng: Rng;
  dirty(): void;
  connected(agent: import('./agent.js').FleetAgent): void;
  disconnected(agent: import('./agent.js').FleetAgent, wasConnected: boolean): void;
  /** A connected agent stopped cleanly (retained offline). */
  stopped(agent: import('./agent.js').FleetAgent): void;
  error(agent: import('./agent.js').FleetAgent, err: Error): void;
  badInbound(agent: import('./agent.js').FleetAgent, leaf: string, reason: string): void;
  malformed(agent: import('./agent.js').FleetAgent): void;
}

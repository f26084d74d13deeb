// The at-least-once load of every chaos case: protocol-level fleet boxes (simulators/src/fleet) with
// short keepalives and ack timeouts so that faults are noticed and recovered within the case's bound,
// outboxes large enough that nothing is dropped, and some batches published twice.
import pino from 'pino';
import { FLEET_DEFAULTS, Fleet, type FleetConfig } from '../../simulators/src/fleet/fleet.js';
import type { ProducerLedger } from './ledger.mjs';
import { waitFor } from './wait.js';

export const log = pino({ level: process.env.CHAOS_LOG ?? 'silent' });

export interface LoadSpec {
  brokerUrl: string;
  rooms: number;
  prefix: string;
  /** Hub API for provisioning (the embedded broker checks passwords); null for an anonymous broker. */
  api: string | null;
  adminToken: string | null;
  over?: Partial<FleetConfig>;
}

export const DUPLICATE_RATE = 0.05;

export function describeLoad(rooms: number, extra = ''): string {
  return `${rooms} fleet boxes × 2 records/s (1 s windows, cam + mic), ${DUPLICATE_RATE * 100}% of batches published twice${extra}`;
}

export async function startFleet(spec: LoadSpec): Promise<Fleet> {
  const fleet = new Fleet(
    { log },
    {
      ...FLEET_DEFAULTS,
      brokerUrl: spec.brokerUrl,
      rooms: spec.rooms,
      prefix: spec.prefix,
      roomPrefix: spec.prefix.toUpperCase(),
      api: spec.api,
      adminToken: spec.adminToken,
      windowS: 1,
      telemetryIntervalS: 5,
      keepaliveS: 5,
      ackTimeoutMs: 3000,
      reconnectDelayS: 1,
      duplicateRate: DUPLICATE_RATE,
      maxOutbox: 1_000_000,
      connectRate: 50,
      ...spec.over,
    },
  );
  await fleet.start();
  await fleet.waitAllOnline(60_000);
  return fleet;
}

/** Records acked to the fleet so far (to wait for progress between faults). */
export function acked(fleet: Fleet): number {
  return fleet.stats.acked;
}

/** Waits until the fleet has had `n` more records acked than now. */
export async function progress(fleet: Fleet, n: number, what: string, timeoutMs = 60_000): Promise<void> {
  const target = acked(fleet) + n;
  await waitFor(() => acked(fleet) >= target, `${what}: ${n} more records acked`, timeoutMs);
}

/**
 * Stops making records, then waits (bounded) until every outbox is empty, i.e. the hub has acked
 * every record, and stops the fleet. Returns the fleet's ledgers.
 */
export async function drain(fleet: Fleet, timeoutMs = 120_000): Promise<ProducerLedger[]> {
  fleet.quiesce();
  try {
    await waitFor(
      () => fleet.pendingRecords() === 0,
      'every fleet outbox drained',
      timeoutMs,
      250,
      () => {
        const waiting = fleet.agents.filter((a) => a.outbox.size > 0);
        return `${fleet.pendingRecords()} records in ${waiting.length} outboxes (e.g. ${waiting
          .slice(0, 3)
          .map((a) => `${a.id.agent}: ${a.outbox.size}, connected=${a.connected}`)
          .join('; ')})`;
      },
    );
  } finally {
    await fleet.stop();
  }
  if (fleet.stats.dropped > 0) throw new Error(`fleet outboxes dropped ${fleet.stats.dropped} records`);
  return fleet.agents.map((a) => ({ agent: a.id.agent, lastSeq: a.counters.nextSeq - 1 }));
}

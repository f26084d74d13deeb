import { LIMITS, topics } from '@classroom/protocol';
import type { FleetAgent } from './agent.js';
import type { Rng } from './random.js';

export const MALFORMED_KINDS = [
  'bad-json',
  'wrong-version',
  'schema',
  'unordered-records',
  'oversized',
  'not-utf8',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/**
 * A payload the hub must refuse and dead-letter without disturbing the valid messages around it
 * (DESIGN: "Bad input always gets a clear error and loses nothing"). Every kind is on the agent's
 * own topics, which the ACL allows, so it reaches the hub's validation.
 */
export function malformedPayload(
  agent: FleetAgent,
  rng: Rng,
  kind: MalformedKind = MALFORMED_KINDS[Math.floor(rng() * MALFORMED_KINDS.length)]!,
): { kind: MalformedKind; topic: string; payload: Buffer | string } {
  const a = agent.id.agent;
  const session = agent.counters.session;
  switch (kind) {
    case 'bad-json':
      return { kind, topic: topics.telemetry(a), payload: '{"v":1,"session":' };
    case 'wrong-version':
      return {
        kind,
        topic: topics.telemetry(a),
        payload: JSON.stringify({ v: 2, session, ts: agent.now() }),
      };
    case 'schema':
      return {
        kind,
        topic: topics.records(a),
        payload: JSON.stringify({ v: 1, session, records: [{ seq: 'one', kind: 'capture' }] }),
      };
    case 'unordered-records': {
      // Seqs far beyond the agent's own, so even a lenient hub could never mistake them for real ones.
      const base = 9_000_000_000_000;
      const rec = (seq: number) => ({
        seq,
        kind: 'event',
        source: null,
        ts: agent.now(),
        type: 'disk.low',
        detail: {},
      });
      return {
        kind,
        topic: topics.records(a),
        payload: JSON.stringify({ v: 1, session, records: [rec(base + 2), rec(base + 1)] }),
      };
    }
    case 'oversized':
      return { kind, topic: topics.telemetry(a), payload: 'x'.repeat(LIMITS.maxPayloadBytes + 1) };
    case 'not-utf8':
      return { kind, topic: topics.birth(a), payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) };
  }
}

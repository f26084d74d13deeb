// An exact-topic index over aedes' in-memory retained messages. aedes-persistence's memory store
// answers every SUBSCRIBE by testing each retained topic against each filter; with ≥ 2 retained
// messages per agent and 4 subscriptions per agent, connecting a fleet is quadratic (the profile in
// the hub-perf task showed it as the largest hot spot at 3,000 agents). A filter without wildcards can
// match only the topic equal to it, so it is answered from a map; wildcard filters keep aedes' own
// matching, so their results (and order) are unchanged.
import { Readable } from 'node:stream';

/** The part of an aedes persistence (the callback layer aedes calls) that this wraps. */
export interface RetainedPersistence {
  storeRetained(packet: RetainedPacket, cb?: (err: Error | null) => void): unknown;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

export interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
  [k: string]: unknown;
}

/** A topic filter with no `+` or `#` level matches exactly one topic: itself. */
export function isExactFilter(filter: string): boolean {
  return !filter.includes('+') && !filter.includes('#');
}

/**
 * Wraps `persistence` in place so exact filters are looked up in a map, and returns it. The map mirrors
 * the store: a retained packet with an empty payload deletes the topic, as aedes-persistence does.
 */
export function withRetainedIndex<P extends RetainedPersistence>(
  persistence: P,
): P & { retainedCount(): number } {
  const byTopic = new Map<string, RetainedPacket>();
  const store = persistence.storeRetained.bind(persistence);
  const stream = persistence.createRetainedStream.bind(persistence);

  const index = (packet: RetainedPacket): void => {
    // Same rule and same copy as aedes-persistence's storeRetained (the caller may reuse its object).
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
  };

  function* exact(filter: string): Generator<RetainedPacket> {
    const p = byTopic.get(filter);
    if (p) yield p;
  }

  async function* combi(patterns: string[]): AsyncGenerator<RetainedPacket> {
    for (const pattern of patterns) {
      if (isExactFilter(pattern)) yield* exact(pattern);
      else for await (const p of stream(pattern)) yield p as RetainedPacket;
    }
  }

  const wrapped = persistence as P & { retainedCount(): number };
  wrapped.storeRetained = ((packet: RetainedPacket, cb?: (err: Error | null) => void) => {
    index(packet);
    return store(packet, cb);
  }) as P['storeRetained'];
  wrapped.createRetainedStream = (pattern: string) =>
    isExactFilter(pattern) ? Readable.from(exact(pattern)) : stream(pattern);
  wrapped.createRetainedStreamCombi = (patterns: string[]) =>
    patterns.every(isExactFilter)
      ? Readable.from(patterns.flatMap((p) => [...exact(p)]))
      : Readable.from(combi(patterns));
  wrapped.retainedCount = () => byTopic.size;
  return wrapped;
}

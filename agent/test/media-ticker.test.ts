import { describe, expect, it } from 'vitest';
import { SharedTicker } from '../src/media/ticker.js';
import { waitFor } from './helpers/broker.js';

describe('shared ticker (docs/agent-media.md "Supervision": one watchdog timer for every source)', () => {
  it('runs every listener on each tick, stops one once removed, and lets go of the timer when empty', async () => {
    const ticker = new SharedTicker(50);
    const calls = [0, 0, 0];
    const removes = calls.map((_, i) => ticker.add(() => calls[i]!++));
    expect(ticker.size()).toBe(3);
    await waitFor(() => calls.every((c) => c >= 3), 'three ticks of every listener', 20_000);
    // Listeners of one ticker run on the same tick: their counts differ by at most one.
    expect(Math.max(...calls) - Math.min(...calls)).toBeLessThanOrEqual(1);
    removes[0]!();
    const stopped = calls[0]!;
    const at = calls[1]!;
    await waitFor(() => calls[1]! >= at + 3, 'three more ticks of the others', 20_000);
    expect(calls[0]).toBe(stopped);
    removes[1]!();
    removes[2]!();
    expect(ticker.size()).toBe(0);
  });

  it('a listener that removes another during a tick does not run it again', async () => {
    const ticker = new SharedTicker(50);
    let second = 0;
    let removeSecond: () => void = () => undefined;
    const removeFirst = ticker.add(() => removeSecond());
    removeSecond = ticker.add(() => second++);
    const probe = { n: 0 };
    const removeProbe = ticker.add(() => probe.n++);
    await waitFor(() => probe.n >= 3, 'three ticks', 20_000);
    expect(second).toBe(0);
    removeFirst();
    removeProbe();
    expect(ticker.size()).toBe(0);
  });
});

// The hub's thumbnail cache alone (hub/src/patrol/thumbnails.ts), with fake timers: one request per
// room at a time however many walls ask, a time-to-live, answers only from the agent asked, timeouts.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Clock, createBus } from '../src/context.js';
import {
  THUMBNAIL_TTL_MS,
  THUMBNAIL_WAIT_MS,
  ThumbnailCache,
  ThumbnailUnavailable,
} from '../src/patrol/thumbnails.js';

const JPEG = Buffer.from([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);

describe('ThumbnailCache', () => {
  const clock: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (t) => clearInterval(t),
  };
  let sent: Array<{ topic: string; payload: { id: string; name: string; args: { source: string } } }>;
  let bus: ReturnType<typeof createBus>;
  let cache: ThumbnailCache;

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    bus = createBus(new EventEmitter(), pino({ level: 'silent' }));
    cache = new ThumbnailCache({
      clock,
      bus,
      mqtt: {
        publish: async (topic, payload) => {
          sent.push({ topic, payload: payload as (typeof sent)[number]['payload'] });
        },
      },
    });
    cache.start();
  });
  afterEach(() => {
    cache.stop();
    vi.useRealTimers();
  });

  const answer = (agent: string, i = sent.length - 1, jpeg = JPEG) =>
    bus.emit('command.result', {
      agent,
      result: { v: 1, id: sent[i]!.payload.id, status: 'ok', data: { jpeg: jpeg.toString('base64'), at: 5 } },
    });

  it('asks the box once for any number of concurrent walls, then serves from memory until the TTL', async () => {
    const walls = [cache.get('box-1', 'cam'), cache.get('box-1', 'cam'), cache.get('box-1', 'cam')];
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      topic: 'classroom/v1/box-1/cmd',
      payload: { name: 'thumbnail', args: { source: 'cam' } },
    });
    expect(sent[0]!.payload.id.startsWith('thumb.')).toBe(true);
    answer('box-1');
    for (const t of await Promise.all(walls)) expect(t.jpeg.equals(JPEG)).toBe(true);
    await cache.get('box-1', 'cam');
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(THUMBNAIL_TTL_MS);
    expect(cache.size()).toBe(0);
    const next = cache.get('box-1', 'cam');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    answer('box-1');
    await next;
  });

  it('ignores an answer from another agent and gives up after the wait', async () => {
    const p = cache.get('box-1', 'cam');
    const failed = expect(p).rejects.toThrow(ThumbnailUnavailable);
    await vi.advanceTimersByTimeAsync(0);
    answer('box-2');
    await vi.advanceTimersByTimeAsync(THUMBNAIL_WAIT_MS);
    await failed;
    expect(cache.size()).toBe(0);
  });

  it("refuses what is not a JPEG, and passes the box's error on", async () => {
    const p = cache.get('box-1', 'cam');
    const bad = expect(p).rejects.toThrow(/not a thumbnail JPEG/);
    await vi.advanceTimersByTimeAsync(0);
    answer('box-1', 0, Buffer.from('<html>'));
    await bad;
    const q = cache.get('box-1', 'cam');
    const refused = expect(q).rejects.toThrow(/rate limited/);
    await vi.advanceTimersByTimeAsync(0);
    bus.emit('command.result', {
      agent: 'box-1',
      result: { v: 1, id: sent[1]!.payload.id, status: 'error', error: 'rate limited' },
    });
    await refused;
  });
});

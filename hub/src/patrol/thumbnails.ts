// Patrol-wall thumbnails (docs/hub-people.md, "Patrol wall"): asked of the agent with the `thumbnail`
// command only when a wall asks the hub, kept in memory for a short time so that any number of walls
// showing a room cost the box one picture per TTL, and never written to the store.
import { randomUUID } from 'node:crypto';
import { type CommandResult, LIMITS, topics } from '@classroom/protocol';
import type { Clock, HubContext, HubEvents } from '../context.js';

/** Command ids of thumbnails start with this, so the command log (commands/module.ts) skips them. */
export const THUMBNAIL_ID_PREFIX = 'thumb.';
/** How long a thumbnail is served from memory; the agent makes a new picture every 5 s. */
export const THUMBNAIL_TTL_MS = 4000;
/** How long the hub waits for the box to answer. */
export const THUMBNAIL_WAIT_MS = 8000;
/** Most thumbnails held at once (about 20 KB each): bounds memory with thousands of rooms. */
export const THUMBNAIL_CACHE_MAX = 2000;

export interface Thumbnail {
  jpeg: Buffer;
  /** When the agent made the picture (its clock), or when the hub received it. */
  at: number;
  fetchedAt: number;
  source: string;
}

export class ThumbnailUnavailable extends Error {}

type Pending = { agent: string; resolve: (r: CommandResult) => void };

export class ThumbnailCache {
  private readonly cache = new Map<string, Thumbnail>();
  private readonly inflight = new Map<string, Promise<Thumbnail>>();
  private readonly pending = new Map<string, Pending>();
  private sweep: NodeJS.Timeout | undefined;
  /** Requests sent to agents, for tests and /metrics. */
  requested = 0;

  constructor(private readonly ctx: Pick<HubContext, 'mqtt' | 'bus'> & { clock: Clock }) {}

  private readonly onResult = (e: HubEvents['command.result']): void => {
    const p = this.pending.get(e.result.id);
    // Only the agent asked may answer (an agent cannot answer for another box).
    if (!p || p.agent !== e.agent || e.result.status === 'accepted') return;
    this.pending.delete(e.result.id);
    p.resolve(e.result);
  };

  start(): void {
    this.ctx.bus.on('command.result', this.onResult);
    this.sweep = this.ctx.clock.setInterval(() => this.expire(), THUMBNAIL_TTL_MS);
  }

  stop(): void {
    this.ctx.bus.off('command.result', this.onResult);
    this.ctx.clock.clearInterval(this.sweep);
    this.cache.clear();
    // Requests still waiting end now rather than holding the hub's shutdown for their timeout.
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ v: 1, id, status: 'error', error: 'the hub is stopping' });
    }
  }

  size(): number {
    return this.cache.size;
  }

  private expire(): void {
    const now = this.ctx.clock.now();
    for (const [k, t] of this.cache) if (now - t.fetchedAt >= THUMBNAIL_TTL_MS) this.cache.delete(k);
  }

  /** The room's current thumbnail: from memory when fresh, else asked of the agent (one request at a time). */
  async get(agent: string, source: string): Promise<Thumbnail> {
    const key = `${agent}/${source}`;
    const hit = this.cache.get(key);
    if (hit && this.ctx.clock.now() - hit.fetchedAt < THUMBNAIL_TTL_MS) return hit;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(agent, source).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetch(agent: string, source: string): Promise<Thumbnail> {
    const id = `${THUMBNAIL_ID_PREFIX}${randomUUID()}`;
    const now = this.ctx.clock.now();
    const result = new Promise<CommandResult | null>((resolve) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, THUMBNAIL_WAIT_MS);
      this.pending.set(id, {
        agent,
        resolve: (r) => {
          this.ctx.clock.clearTimeout(timer);
          resolve(r);
        },
      });
    });
    this.requested++;
    await this.ctx.mqtt.publish(
      topics.cmd(agent),
      { v: 1, id, name: 'thumbnail', args: { source }, expiresAt: now + THUMBNAIL_WAIT_MS },
      { qos: 1 },
    );
    const r = await result;
    if (!r)
      throw new ThumbnailUnavailable(`box ${agent} did not answer within ${THUMBNAIL_WAIT_MS / 1000} s`);
    if (r.status !== 'ok') throw new ThumbnailUnavailable(r.error ?? 'the box refused');
    const b64 = r.data?.jpeg;
    if (typeof b64 !== 'string') throw new ThumbnailUnavailable('the box sent no picture');
    const jpeg = Buffer.from(b64, 'base64');
    if (jpeg.length > LIMITS.maxThumbnailBytes || jpeg[0] !== 0xff || jpeg[1] !== 0xd8)
      throw new ThumbnailUnavailable('the box sent something that is not a thumbnail JPEG');
    const t: Thumbnail = {
      jpeg,
      at: typeof r.data?.at === 'number' ? r.data.at : this.ctx.clock.now(),
      fetchedAt: this.ctx.clock.now(),
      source,
    };
    const key = `${agent}/${source}`;
    this.cache.delete(key);
    this.cache.set(key, t);
    // Oldest first in a Map: drop from the front past the cap.
    while (this.cache.size > THUMBNAIL_CACHE_MAX) {
      const first = this.cache.keys().next().value;
      if (first === undefined) break;
      this.cache.delete(first);
    }
    return t;
  }
}

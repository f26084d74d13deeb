// A real agent on a real ffmpeg camera that shows rows of people, counting into capture windows
// that reach a real in-process hub over MQTT and are stored (docs/occupancy.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentApp } from '../agent/src/app.js';
import { parseConfig } from '../agent/src/config.js';
import { PeopleDetector } from '../agent/src/occupancy/detector.js';
// @ts-expect-error: a plain ESM helper shared with bench/ (no type declarations)
import { writeComposite } from '../bench/lib/occupancy-composite.mjs';
import { type InProcessHub, inProcessHub } from '../hub/test/core-helpers.js';

let h: InProcessHub;
const dir = mkdtempSync(join(tmpdir(), 'occupancy-e2e-'));
let truth = 0;
// A still classroom as a live 720p camera: the picture looped by lavfi, 5 frames a second.
const video = `lavfi:movie=${join(dir, 'room.jpg')},loop=loop=-1:size=1,setpts=N/(5*TB),format=yuv420p`;
const apps: AgentApp[] = [];

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function agent(id: string, detector?: () => PeopleDetector): Promise<AgentApp> {
  const creds = (await h.api<{ password: string }>('POST', '/api/agents', { agent: id, room: `R-${id}` }))
    .body;
  const r = parseConfig({
    agent: id,
    room: { id: `R-${id}` },
    broker: { url: h.mqttUrl, username: id, password: creds.password, keepaliveS: 5 },
    dataDir: join(dir, id),
    windowS: 5,
    sources: [{ id: 'cam', kind: 'camera', input: video, occupancy: { enabled: true, intervalS: 5 } }],
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const app = new AgentApp({
    config: r.config,
    log: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }),
    durability: 'normal',
    ...(detector ? { createDetector: detector } : {}),
  });
  apps.push(app);
  await app.start();
  return app;
}

async function captures(
  id: string,
): Promise<{ occupancy?: { people: number; peak: number; samples: number } }[]> {
  const rows = await h.hub.ctx.db.all<{ body: string }>(
    "SELECT body FROM records WHERE agent = ? AND kind = 'capture' ORDER BY seq",
    [id],
  );
  return rows.map((r) => (typeof r.body === 'string' ? JSON.parse(r.body) : r.body));
}

beforeAll(async () => {
  truth = writeComposite(join(dir, 'room.jpg'), { faceW: 64 }) as number;
  h = await inProcessHub();
}, 120_000);

afterAll(async () => {
  for (const a of apps) await a.stop();
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('occupancy end to end', () => {
  it('capture windows reach the hub carrying the count of the people in view', async () => {
    await agent('box-count');
    const counted = await waitFor('a counted window at the hub', 150_000, async () => {
      const c = (await captures('box-count')).filter((r) => r.occupancy);
      return c.length >= 2 ? c : undefined;
    });
    for (const r of counted) {
      const o = r.occupancy!;
      // 64 px faces: within 15 % (BENCHMARKS.md "Occupancy", accuracy by face size).
      expect(Math.abs(o.people - truth), `${o.people} for ${truth}`).toBeLessThanOrEqual(
        Math.ceil(truth * 0.15),
      );
      expect(o.peak).toBeGreaterThanOrEqual(o.people);
      expect(o.samples).toBeGreaterThanOrEqual(1);
    }
    const dead = await h.hub.ctx.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM dead_letters');
    expect(Number(dead[0]!.n)).toBe(0);
  }, 200_000);

  it('a camera without a usable model says "unavailable" in its birth and keeps reporting health', async () => {
    await agent('box-nomodel', () => new PeopleDetector({ wasmDir: '/nonexistent/wasm/' }));
    const rows = await waitFor('a birth saying unavailable, and windows after it', 150_000, async () => {
      const api = await h.api<{
        birth: { sources: { id: string; occupancy?: string; occupancyReason?: string }[] } | null;
      }>('GET', '/api/agents/box-nomodel');
      const cam = api.body.birth?.sources.find((s) => s.id === 'cam');
      const c = await captures('box-nomodel');
      return cam?.occupancy === 'unavailable' && c.length >= 2 ? { c, cam } : undefined;
    });
    expect(rows.cam.occupancyReason).toMatch(/wasm/i);
    expect(rows.c.every((r) => r.occupancy === undefined)).toBe(true);
    const dead = await h.hub.ctx.db.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM dead_letters WHERE agent = 'box-nomodel'",
    );
    expect(Number(dead[0]!.n)).toBe(0);
  }, 200_000);
});

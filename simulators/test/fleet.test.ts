import { join } from 'node:path';
import { type RunningHub, startHub } from '@classroom/hub';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, Fleet, type FleetConfig } from '../src/fleet/fleet.js';
import { type ApiAgent, type ApiRecord, hubGet } from '../src/room/hub-client.js';
import { removeDir, tempDir, waitFor } from './helpers.js';

// Protocol-level fleets against a real hub (in-process, real aedes, real sqlite, port 0), provisioned
// through POST /api/agents, with every fault flag on (docs/simulators.md "classroom-sim fleet").
const log = pino({ level: process.env.SIM_TEST_LOG ?? 'warn' });
let hub: RunningHub;
let dir: string;
let api: { api: string; adminToken: string };

beforeAll(async () => {
  dir = tempDir('fleet-');
  hub = await startHub({
    dataDir: join(dir, 'hub'),
    host: '127.0.0.1',
    httpPort: 0,
    mqttPort: 0,
    adminToken: 'fleet-admin-token-0123456789',
    logLevel: 'error',
  });
  api = { api: `http://127.0.0.1:${hub.httpPort}`, adminToken: hub.adminToken };
});

afterAll(async () => {
  await hub?.stop();
  removeDir(dir);
});

function config(over: Partial<FleetConfig>): FleetConfig {
  return {
    ...FLEET_DEFAULTS,
    brokerUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
    rooms: 50,
    api: api.api,
    adminToken: api.adminToken,
    windowS: 1,
    telemetryIntervalS: 2,
    ackTimeoutMs: 3000,
    reconnectDelayS: 1,
    ...over,
  };
}

async function allRecords(prefix: string): Promise<Map<string, number[]>> {
  const by = new Map<string, number[]>();
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const page: { records: ApiRecord[]; nextCursor: string | null } = await hubGet(api, `/api/records?${q}`);
    for (const r of page.records) {
      if (!r.agent.startsWith(prefix)) continue;
      const list = by.get(r.agent) ?? [];
      list.push(r.record.seq);
      by.set(r.agent, list);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return by;
}

async function agentsByPrefix(prefix: string): Promise<ApiAgent[]> {
  const body = await hubGet<{ agents: ApiAgent[] }>(api, '/api/agents');
  return body.agents.filter((a) => a.agent.startsWith(prefix));
}

async function metric(name: string): Promise<number> {
  const text = await (
    await fetch(`${api.api}/metrics`, { headers: { authorization: `Bearer ${api.adminToken}` } })
  ).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('fleet against a real hub', () => {
  it('50 agents with disconnects, duplicates, malformed payloads and clock skew: stored exactly once, hub healthy', async () => {
    const fleet = new Fleet(
      { log },
      config({
        prefix: 'ff',
        roomPrefix: 'FF',
        stateFile: join(dir, 'fleet-state.json'),
        duplicateRate: 0.3,
        malformedRate: 0.2,
        clockSkewMs: 8000,
        disconnectsPerMin: 60,
        mediaFaultRate: 0.2,
      }),
    );
    await fleet.start();
    try {
      await fleet.waitAllOnline(40_000);
      await waitFor(
        () =>
          fleet.stats.injectedDisconnects >= 3 &&
          fleet.stats.duplicates >= 5 &&
          fleet.stats.malformed >= 5 &&
          fleet.stats.acked >= 300,
        'faults injected and records acked',
        40_000,
      );
      // Calm the fleet, then every record must be acked and stored once, in contiguous seqs.
      fleet.config.disconnectsPerMin = 0;
      fleet.config.malformedRate = 0;
      await fleet.waitAllOnline(30_000);
      const health = (await (await fetch(`${api.api}/api/health`)).json()) as { status: string };
      expect(health.status).toBe('ok');
      await waitFor(() => fleet.pendingRecords() <= 2 * fleet.agents.length, 'outboxes drained', 20_000);
      fleet.config.windowS = 3600; // no new windows: let the last ones drain fully
      await waitFor(
        () => fleet.agents.every((a) => a.nextWindowAt > Date.now() + 60_000) && fleet.pendingRecords() === 0,
        'every record acked',
        30_000,
      );
      const stored = await allRecords('ff-');
      expect(stored.size).toBe(50);
      for (const a of fleet.agents) {
        const seqs = (stored.get(a.id.agent) ?? []).sort((x, y) => x - y);
        const want = Array.from({ length: a.counters.nextSeq - 1 }, (_, i) => i + 1);
        expect(seqs, a.id.agent).toEqual(want);
      }
      // Injected losses made those agents reconnect with a new session each time.
      expect(fleet.agents.some((a) => a.counters.session > 1)).toBe(true);
      // The hub's view follows within a few telemetry intervals: on a loaded machine a fleet agent
      // whose timers stall past 3 intervals is `lost` until its next message. A single snapshot
      // found 49 of 50 online once in CI (availability not recorded then; it is printed now).
      const allOnline = async () => {
        const all = await agentsByPrefix('ff-');
        return all.length === 50 && all.every((a) => a.availability === 'online');
      };
      await waitFor(allOnline, 'the hub to show all 50 agents online', 10_000).catch(() => undefined);
      const agents = await agentsByPrefix('ff-');
      expect(
        agents.filter((a) => a.availability !== 'online'),
        'agents the hub does not show online',
      ).toEqual([]);
      expect(agents).toHaveLength(50);
      for (const a of agents) {
        const mine = fleet.agents.find((f) => f.id.agent === a.agent)!;
        expect(a.session).toBe(mine.counters.session);
      }
      expect(await metric('classroom_hub_dead_letters_total')).toBeGreaterThanOrEqual(fleet.stats.malformed);
      expect(await metric('classroom_hub_records_duplicate_total')).toBeGreaterThan(0);
      const events = await hubGet<{ records: ApiRecord[] }>(api, '/api/records?kind=event&limit=1000');
      const types = new Set(
        events.records
          .filter((r) => r.agent.startsWith('ff-'))
          .map((r) => (r.record.kind === 'event' ? r.record.type : '')),
      );
      expect(types).toContain('clock.skew');
      expect(types).toContain('video.black.start');
    } finally {
      await fleet.stop();
    }
    // A clean stop leaves every agent offline (retained state), not lost.
    await waitFor(
      async () => (await agentsByPrefix('ff-')).every((a) => a.availability === 'offline'),
      'all offline after a clean stop',
      20_000,
    );
  }, 58_000);

  it('a rerun with the state file continues sessions and seqs, reusing the provisioned credentials', async () => {
    const stateFile = join(dir, 'rerun-state.json');
    const first = new Fleet({ log }, config({ prefix: 'rr', roomPrefix: 'RR', rooms: 5, stateFile }));
    await first.start();
    await first.waitAllOnline(20_000);
    await waitFor(() => first.stats.acked >= 10 && first.pendingRecords() === 0, 'records acked', 20_000);
    first.config.windowS = 3600;
    await waitFor(
      () => first.agents.every((a) => a.nextWindowAt > Date.now() + 60_000) && first.pendingRecords() === 0,
      'drained',
      10_000,
    );
    const before = first.agents.map((a) => ({ ...a.counters }));
    await first.stop();
    const second = new Fleet(
      { log },
      config({ prefix: 'rr', roomPrefix: 'RR', rooms: 5, stateFile, api: null, adminToken: null }),
    );
    await second.start();
    try {
      // No admin token this time: only the saved passwords can get these agents in.
      await second.waitAllOnline(20_000);
      second.agents.forEach((a, i) => {
        expect(a.counters.session).toBe(before[i]!.session + 1);
      });
      await waitFor(() => second.stats.acked >= 10, 'new records acked', 20_000);
      const stored = await allRecords('rr-');
      for (const a of second.agents) {
        const seqs = stored.get(a.id.agent)!.sort((x, y) => x - y);
        expect(seqs[0]).toBe(1);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(Math.max(...seqs)).toBeGreaterThan(before.find((_, i) => second.agents[i] === a)!.nextSeq - 1);
      }
    } finally {
      await second.stop();
    }
  }, 58_000);
});

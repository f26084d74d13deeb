// Property-based tests of the API's query parsing (the zod querystring schemas of the routes in
// src/http and the feature modules) with fast-check, against a real hub over real HTTP: no query
// string gets a 5xx; an invalid one gets 400 with the one error body and the offending parameter
// named; every valid records query is answered with exactly the records its filters select, in
// order; and paging by nextCursor returns each record once (the cursor round-trips).
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ackCollector,
  birth,
  connectAgent,
  type InProcessHub,
  inProcessHub,
  waitFor,
} from './core-helpers.js';

let h: InProcessHub;
const clients: MqttClient[] = [];
const AGENTS = ['prop-a', 'prop-b', 'prop-c'];
const T0 = 1_700_000_000_000;
/** Every record stored, as [ts, agent, seq, kind], for the oracle. */
const all: Array<{ ts: number; agent: string; seq: number; kind: 'capture' | 'event'; room: string }> = [];

beforeAll(async () => {
  h = await inProcessHub();
  for (const [i, agent] of AGENTS.entries()) {
    const room = `PROP-${i}`;
    const creds = (await h.api<{ password: string }>('POST', '/api/agents', { agent, room })).body;
    const c = await connectAgent(h.mqttUrl, agent, creds.password);
    clients.push(c);
    const acked = await ackCollector(c, agent);
    await c.publishAsync(`classroom/v1/${agent}/birth`, JSON.stringify(birth(agent, room)), { qos: 1 });
    const records = Array.from({ length: 40 }, (_, k) => {
      const seq = k + 1;
      // Times collide across agents on purpose: the cursor must break ties by (agent, seq).
      const ts = T0 + Math.floor(k / 2) * 10_000;
      all.push({ ts, agent, seq, kind: k % 5 === 4 ? 'event' : 'capture', room });
      return k % 5 === 4
        ? { seq, kind: 'event', source: null, ts, type: 'disk.low', detail: { freeBytes: k } }
        : {
            seq,
            kind: 'capture',
            source: 'cam',
            start: ts,
            end: ts + 10_000,
            video: {
              fps: 25,
              width: 640,
              height: 360,
              keyframes: 5,
              bitrateKbps: 800,
              blackRatio: 0,
              frozenRatio: 0,
              motion: 0.1,
            },
          };
    });
    await c.publishAsync(`classroom/v1/${agent}/records`, JSON.stringify({ v: 1, session: 1, records }), {
      qos: 1,
    });
    await waitFor(`records of ${agent} acked`, () => acked.size === 40);
  }
  all.sort((a, b) => a.ts - b.ts || (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0) || a.seq - b.seq);
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await h?.stop();
});

async function get(path: string): Promise<{ status: number; body: unknown; text: string }> {
  const r = await h.api('GET', path);
  return { status: r.status, body: r.body, text: r.text };
}

function expectErrorBody(body: unknown): {
  code: string;
  message: string;
  details?: Array<{ path: string }>;
} {
  const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
  expect(typeof e?.code).toBe('string');
  expect(typeof e?.message).toBe('string');
  expect(String(e?.message ?? '').length).toBeGreaterThan(0);
  return e as never;
}

const KEYS = ['agent', 'room', 'kind', 'from', 'to', 'limit', 'cursor', 'format', 'bucket', 'state', 'token'];
const junkValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 8, unit: 'grapheme' }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    '',
    'NaN',
    'Infinity',
    '1e400',
    '-0',
    '0x10',
    '[]',
    '{}',
    'null',
    ' 5',
    '5 ',
    'csv',
    'json',
  ),
);
const junkQuery = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 10 })), junkValue), {
    maxLength: 6,
  })
  .map((pairs) => new URLSearchParams(pairs).toString());

describe('API query parsing: properties', () => {
  it('answers any query string on every query route with 200 or a 400 that says why, never a 5xx', async () => {
    const routes = ['/api/records', '/api/alarms', '/api/rooms/PROP-0/rollups', '/api/rooms/PROP-0/schedule'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), junkQuery, async (route, qs) => {
        const r = await get(`${route}?${qs}`);
        if (r.status !== 200 && r.status !== 400)
          throw new Error(`${route}?${qs} answered ${r.status}: ${r.text}`);
        if (r.status === 400) expectErrorBody(r.body);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an out-of-range or wrongly typed parameter, naming it', async () => {
    const bad = fc.oneof(
      fc.record({
        key: fc.constant('limit'),
        value: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1001 })).map(String),
      }),
      fc.record({ key: fc.constant('from'), value: fc.integer({ max: -1 }).map(String) }),
      fc.record({ key: fc.constant('to'), value: fc.stringMatching(/^[a-z]{1,8}$/) }),
      fc.record({
        key: fc.constant('kind'),
        value: fc.stringMatching(/^[a-z]{1,8}$/).filter((k) => k !== 'event'),
      }),
      fc.record({
        key: fc.constant('format'),
        value: fc.stringMatching(/^[a-z]{1,8}$/).filter((k) => k !== 'csv' && k !== 'json'),
      }),
      fc.record({ key: fc.constant('agent'), value: fc.string({ minLength: 65, maxLength: 80 }) }),
    );
    await fc.assert(
      fc.asyncProperty(bad, async ({ key, value }) => {
        const r = await get(`/api/records?${new URLSearchParams({ [key]: value })}`);
        expect(r.status).toBe(400);
        const e = expectErrorBody(r.body);
        expect(e.details?.map((d) => d.path)).toContain(`querystring/${key}`);
      }),
      { numRuns: 200 },
    );
  });

  it('never fails on a forged cursor: 400 invalid cursor or a page', async () => {
    const forged = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.json().map((j) => Buffer.from(j).toString('base64url')),
      fc
        .tuple(
          fc.oneof(fc.integer(), fc.double(), fc.string()),
          fc.oneof(fc.string(), fc.integer()),
          fc.integer(),
        )
        .map((t) => Buffer.from(JSON.stringify(t)).toString('base64url')),
    );
    await fc.assert(
      fc.asyncProperty(forged, async (cursor) => {
        const r = await get(`/api/records?${new URLSearchParams({ cursor })}`);
        if (r.status === 400) expect(expectErrorBody(r.body).code).toBe('invalid_request');
        else expect(r.status).toBe(200);
      }),
      { numRuns: 200 },
    );
  });

  const validQuery = fc.record(
    {
      agent: fc.constantFrom(...AGENTS, 'prop-none'),
      room: fc.constantFrom('PROP-0', 'PROP-1', 'PROP-x'),
      kind: fc.constantFrom('capture', 'event'),
      from: fc.integer({ min: T0 - 20_000, max: T0 + 220_000 }),
      to: fc.integer({ min: T0 - 20_000, max: T0 + 220_000 }),
    },
    { requiredKeys: [] },
  );

  it('answers every valid records query with exactly the records its filters select, and pages by cursor without loss or repeat', async () => {
    await fc.assert(
      fc.asyncProperty(validQuery, fc.integer({ min: 1, max: 50 }), async (q, limit) => {
        const expected = all
          .filter(
            (r) =>
              (q.agent === undefined || r.agent === q.agent) &&
              (q.room === undefined || r.room === q.room) &&
              (q.kind === undefined || r.kind === q.kind) &&
              (q.from === undefined || r.ts >= q.from) &&
              (q.to === undefined || r.ts < q.to),
          )
          .map((r) => `${r.agent}#${r.seq}`);
        const params = Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)]));
        const got: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 200; page++) {
          const qs = new URLSearchParams({ ...params, limit: String(limit), ...(cursor ? { cursor } : {}) });
          const r = await get(`/api/records?${qs}`);
          expect(r.status).toBe(200);
          const body = r.body as {
            records: Array<{ agent: string; record: { seq: number } }>;
            nextCursor: string | null;
          };
          expect(body.records.length).toBeLessThanOrEqual(limit);
          got.push(...body.records.map((x) => `${x.agent}#${x.record.seq}`));
          cursor = body.nextCursor;
          if (!cursor) break;
        }
        expect(got).toEqual(expected);
      }),
      { numRuns: 120 },
    );
  });
});

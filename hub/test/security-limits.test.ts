// What one box's garbage may not grow without end (docs/hub.md "Per-agent bounds"): stored dead letters per
// agent (rate, then counted only; row caps, oldest deleted), source ids tracked per agent, alarm rows per
// agent; and an iCalendar import whose expansion is bounded in steps and time, off the main thread.
import { EventEmitter } from 'node:events';
import type { RecordT } from '@classroom/protocol';
import { topics } from '@classroom/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AlarmEngine, MAX_ALARM_KEYS_PER_AGENT } from '../src/alarms/engine.js';
import { PeopleBus } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import { type Clock, createBus, systemClock } from '../src/context.js';
import { AgentRegistry, MAX_SOURCES_PER_AGENT } from '../src/registry/registry.js';
import { parseIcs, ScheduleParseError } from '../src/schedule/parse.js';
import { birth, inProcessHub, tempDir, waitFor } from './core-helpers.js';
import { makeCtx } from './people-helpers.js';
import { connectBox, curl, hubCli, serveHub } from './security-helpers.js';

const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('dead letters', () => {
  it('stores a box’s dead letters up to its rate, then only counts them', async () => {
    let now = 1_800_000_000_000;
    const clock: Clock = { ...systemClock, now: () => now };
    const t = await inProcessHub({
      clock,
      deadLetterLimits: { perAgentPerMinute: 60, burst: 5, maxRowsPerAgent: 1000, maxRows: 100_000 },
    });
    cleanups.push(() => t.stop());
    const { password } = (
      await t.api<{ password: string }>('POST', '/api/agents', { agent: 'noisy', room: 'N1' })
    ).body;
    const box = await connectBox(t.hub.mqttPort, 'noisy', password);
    cleanups.push(() => void box.end(true));
    const send = async (n: number) => {
      for (let i = 0; i < n; i++)
        await box.publishAsync(topics.records('noisy'), `not json ${i}`, { qos: 1 });
    };
    await send(50);
    const stored = async () =>
      (await t.hub.ctx.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM dead_letters WHERE agent = 'noisy'"))
        ?.n;
    await waitFor('5 stored', async () => (await stored()) === 5);
    const reason = (await t.hub.ctx.db.get<{ reason: string }>('SELECT reason FROM dead_letters LIMIT 1'))
      ?.reason;
    let m = (await t.api('GET', '/metrics')).text;
    expect(metric(m, `classroom_hub_dead_letters_total{reason="${reason}"}`)).toBe(50);
    expect(metric(m, 'classroom_hub_dead_letters_unstored_total{cause="rate"}')).toBe(45);
    // A minute later the bucket is full again (burst 5): five more are stored.
    now += 60_000;
    await send(10);
    await waitFor('10 stored', async () => (await stored()) === 10);
    m = (await t.api('GET', '/metrics')).text;
    expect(metric(m, 'classroom_hub_dead_letters_unstored_total{cause="rate"}')).toBe(50);
    // Another box is not affected by the noisy one.
    const other = (await t.api<{ password: string }>('POST', '/api/agents', { agent: 'quiet', room: 'Q1' }))
      .body;
    const quiet = await connectBox(t.hub.mqttPort, 'quiet', other.password);
    cleanups.push(() => void quiet.end(true));
    await quiet.publishAsync(topics.records('quiet'), 'garbage', { qos: 1 });
    await waitFor(
      'quiet stored',
      async () =>
        (
          await t.hub.ctx.db.get<{ n: number }>(
            "SELECT COUNT(*) AS n FROM dead_letters WHERE agent = 'quiet'",
          )
        )?.n === 1,
    );
  });

  it('keeps the newest rows within the per-agent and overall caps', async () => {
    const t = await inProcessHub({
      deadLetterLimits: { perAgentPerMinute: 1_000_000, burst: 1_000_000, maxRowsPerAgent: 8, maxRows: 12 },
    });
    cleanups.push(() => t.stop());
    for (const agent of ['box-a', 'box-b']) {
      const { password } = (await t.api<{ password: string }>('POST', '/api/agents', { agent, room: agent }))
        .body;
      const box = await connectBox(t.hub.mqttPort, agent, password);
      cleanups.push(() => void box.end(true));
      for (let i = 0; i < 30; i++)
        await box.publishAsync(topics.records(agent), `bad ${agent} ${i}`, { qos: 1 });
      await waitFor(`${agent} trimmed to 8`, async () => {
        const rows = await t.hub.ctx.db.all<{ payload: string }>(
          'SELECT payload FROM dead_letters WHERE agent = ? ORDER BY id',
          [agent],
        );
        return rows.length === 8 && rows[0]?.payload === `bad ${agent} 22` ? rows : null;
      });
    }
    // 16 rows of two agents against an overall cap of 12: the oldest go, box-b's newest stay.
    await waitFor('overall cap', async () => {
      const rows = await t.hub.ctx.db.all<{ payload: string }>(
        'SELECT payload FROM dead_letters ORDER BY id',
      );
      return rows.length <= 12 && rows.at(-1)?.payload === 'bad box-b 29';
    });
    const m = (await t.api('GET', '/metrics')).text;
    expect(metric(m, 'classroom_hub_dead_letters_trimmed_total')).toBeGreaterThanOrEqual(60 - 12);
  });
});

describe('per-agent bounds of memory and alarm rows', () => {
  it('tracks at most MAX_SOURCES_PER_AGENT sources per agent, counting the rest', () => {
    const refused: string[] = [];
    const reg = new AgentRegistry({
      clock: systemClock,
      bus: createBus(new EventEmitter(), log),
      log,
      limited: (limit, agent) => refused.push(`${limit}:${agent}`),
    });
    reg.onBirth('box', birth('box', 'R1'));
    const records: RecordT[] = Array.from({ length: 100 }, (_, i) => ({
      seq: i + 1,
      kind: 'event',
      source: `made-up-${i}`,
      ts: 1_000 + i,
      type: 'source.down',
      detail: {},
    })) as RecordT[];
    reg.onRecords('box', records, false);
    const tracked = (
      reg as unknown as { entries: Map<string, { sources: Map<string, unknown> }> }
    ).entries.get('box')?.sources.size;
    expect(tracked).toBe(MAX_SOURCES_PER_AGENT);
    // The birth's two sources plus 30 made-up ones were tracked; 70 refused.
    expect(refused).toHaveLength(100 - (MAX_SOURCES_PER_AGENT - 2));
    expect(new Set(refused)).toEqual(new Set(['source_ids:box']));
    // A source of the birth still works once the agent is at its bound.
    reg.onRecords(
      'box',
      [{ seq: 101, kind: 'event', source: 'cam', ts: 2_000, type: 'source.down', detail: {} } as RecordT],
      false,
    );
    expect(reg.agent('box')?.sources.find((s) => s.id === 'cam')?.status).toBe('down');
  });

  it('keeps at most MAX_ALARM_KEYS_PER_AGENT alarm rows per agent, counting the rest', async () => {
    const t = await makeCtx();
    cleanups.push(() => t.close());
    const store = new AlarmStore(t.db);
    await store.migrate();
    let limited = 0;
    const engine = new AlarmEngine(
      store,
      t.ctx.clock,
      new PeopleBus(t.ctx.log),
      t.ctx.log,
      { raiseAfterMs: 0, clearAfterMs: 0, flapWindowMs: 60_000, flapThreshold: 100, flapClearMs: 0 },
      () => limited++,
    );
    await engine.load();
    cleanups.push(() => engine.stop());
    for (let i = 0; i < 150; i++)
      engine.signal({
        agent: 'box',
        source: `made-up-${i}`,
        type: 'source.down',
        room: 'R1',
        active: true,
        immediate: true,
      });
    engine.signal({
      agent: 'other',
      source: 'cam',
      type: 'source.down',
      room: 'R2',
      active: true,
      immediate: true,
    });
    await engine.flush();
    const rows = await t.db.all<{ agent: string; n: number }>(
      'SELECT agent, COUNT(*) AS n FROM alarms GROUP BY agent ORDER BY agent',
    );
    expect(rows).toEqual([
      { agent: 'box', n: MAX_ALARM_KEYS_PER_AGENT },
      { agent: 'other', n: 1 },
    ]);
    expect(limited).toBe(150 - MAX_ALARM_KEYS_PER_AGENT);
    // An existing alarm still transitions at the bound: it clears and raises again.
    engine.signal({
      agent: 'box',
      source: 'made-up-0',
      type: 'source.down',
      room: 'R1',
      active: false,
      immediate: true,
    });
    engine.signal({
      agent: 'box',
      source: 'made-up-0',
      type: 'source.down',
      room: 'R1',
      active: true,
      immediate: true,
    });
    await engine.flush();
    expect(engine.list().find((a) => a.source === 'made-up-0')?.raiseCount).toBe(2);
    expect(limited).toBe(150 - MAX_ALARM_KEYS_PER_AGENT);
  });
});

function ics(rule: string, start = '19000101T080000Z'): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//classroom//test//EN',
    'BEGIN:VEVENT',
    'UID:rule@test',
    `DTSTART:${start}`,
    `DTEND:${start.slice(0, 9)}090000Z`,
    `RRULE:${rule}`,
    'SUMMARY:Lecture',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

describe('iCalendar expansion bounds', () => {
  const now = Date.UTC(2026, 8, 1);
  const window = { from: now - 86_400_000, until: now + 180 * 86_400_000, maxPeriods: 10_000 };

  it('refuses sub-hourly rules at once', () => {
    expect(() => parseIcs(ics('FREQ=SECONDLY'), window)).toThrow(ScheduleParseError);
    expect(() => parseIcs(ics('FREQ=SECONDLY'), window)).toThrow(/FREQ=SECONDLY is not a class timetable/);
    expect(() => parseIcs(ics('FREQ=MINUTELY;INTERVAL=5'), window)).toThrow(/FREQ=MINUTELY/);
  });

  it('stops a rule that walks too many occurrences, and one that takes too long', () => {
    expect(() => parseIcs(ics('FREQ=HOURLY'), { ...window, maxSteps: 5_000, elapsed: () => 0 })).toThrow(
      /more than 5000 occurrences/,
    );
    // (The clock above stands still, so only the step bound can stop it, however loaded the machine.)
    // Each look at the clock moves it by a second: the budget is spent at the first check.
    let fake = 0;
    expect(() =>
      parseIcs(ics('FREQ=DAILY'), { ...window, budgetMs: 500, elapsed: () => (fake += 1000) }),
    ).toThrow(/took longer than 500 ms/);
  });

  it('still expands an ordinary weekly timetable', () => {
    const periods = parseIcs(ics('FREQ=WEEKLY;BYDAY=MO,WE', '20260824T080000Z'), window);
    expect(periods.length).toBeGreaterThan(40);
    expect(periods.every((p) => p.end - p.start === 3_600_000)).toBe(true);
  });

  it('answers a pathological import over the API with 400 while the hub keeps serving (real bin, curl)', async () => {
    const t = tempDir('hub-ics-');
    cleanups.push(() => t.remove());
    const token = 'ics-test-token-0123456789';
    const h = await serveHub(['--data-dir', t.dir], { CLASSROOM_HUB_ADMIN_TOKEN: token });
    cleanups.push(() => h.stop());
    const put = (content: string) =>
      curl([
        '-X',
        'PUT',
        '-H',
        `Authorization: Bearer ${token}`,
        '-H',
        'content-type: application/json',
        '-d',
        JSON.stringify({ format: 'ics', content }),
        `http://127.0.0.1:${h.httpPort}/api/rooms/R1/schedule`,
      ]);
    const secondly = await put(ics('FREQ=SECONDLY'));
    expect(secondly.status).toBe(400);
    expect(JSON.parse(secondly.body).error).toMatchObject({ code: 'bad_schedule' });
    expect(JSON.parse(secondly.body).error.message).toMatch(/FREQ=SECONDLY/);
    // HOURLY from 1900 passes the frequency check and hits the step bound, in the worker thread,
    // while MQTT and HTTP keep being served.
    const hourly = put(ics('FREQ=HOURLY'));
    const creds = await hubCli<{ password: string }>([
      'agents',
      'add',
      '--agent',
      'box-i',
      '--room',
      'R1',
      '--data-dir',
      t.dir,
    ]);
    (await connectBox(h.mqttPort, 'box-i', creds.password)).end(true);
    expect((await curl([`http://127.0.0.1:${h.httpPort}/api/health`])).status).toBe(200);
    const r = await hourly;
    expect(r.status).toBe(400);
    // Whichever bound is reached first on this machine: the step count or the time budget.
    expect(JSON.parse(r.body).error.message).toMatch(/more than 20000 occurrences|took longer than 2000 ms/);
  });
});

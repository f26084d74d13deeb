import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlarmEngine } from '../src/alarms/engine.js';
import { PeopleBus, type PrecheckResult } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import { RollupsModule } from '../src/rollups/module.js';
import { ScheduleModule } from '../src/schedule/module.js';
import { parseCsvSchedule, parseIcs, ScheduleParseError } from '../src/schedule/parse.js';
import { importSchedule, listPeriods } from '../src/schedule/store.js';
import { agentView, makeCtx, type TestCtx } from './people-helpers.js';

const MIN = 60_000;
const opts = (now: number) => ({ from: now - 86_400_000, until: now + 30 * 86_400_000, maxPeriods: 1000 });

describe('timetable parsing', () => {
  const now = new Date(2026, 2, 2, 7, 0).getTime(); // Monday 2 March 2026, 07:00 local

  it('expands a weekly iCalendar class with an EXDATE', () => {
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//test//EN',
      'BEGIN:VEVENT',
      'UID:math-1',
      'SUMMARY:高等数学',
      'DTSTART:20260302T000000Z',
      'DTEND:20260302T004500Z',
      'RRULE:FREQ=WEEKLY;COUNT=4',
      'EXDATE:20260309T000000Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:once',
      'SUMMARY:Exam',
      'DTSTART:20260304T060000Z',
      'DTEND:20260304T080000Z',
      'END:VEVENT',
      'END:VCALENDAR',
    ].join('\r\n');
    const periods = parseIcs(ics, opts(now));
    expect(periods.map((p) => new Date(p.start).toISOString())).toEqual([
      '2026-03-02T00:00:00.000Z',
      '2026-03-04T06:00:00.000Z',
      '2026-03-16T00:00:00.000Z',
      '2026-03-23T00:00:00.000Z',
    ]);
    expect(periods[0]).toMatchObject({ title: '高等数学', end: Date.parse('2026-03-02T00:45:00Z') });
    expect(() => parseIcs('not a calendar', opts(now))).toThrow(ScheduleParseError);
  });

  it('reads the three CSV shapes', () => {
    const iso = parseCsvSchedule(
      'start,end,title\n2026-03-02T08:00:00+08:00,2026-03-02T08:45:00+08:00,Physics\n',
      opts(now),
    );
    expect(iso).toEqual([
      {
        start: Date.parse('2026-03-02T00:00:00Z'),
        end: Date.parse('2026-03-02T00:45:00Z'),
        title: 'Physics',
      },
    ]);
    const dated = parseCsvSchedule('date,start,end,title\n2026-03-03,10:00,10:45,Chemistry\n', opts(now));
    expect(dated[0]?.start).toBe(new Date(2026, 2, 3, 10, 0).getTime());
    const weekly = parseCsvSchedule(
      'weekday,start,end,title,until\nmon,08:00,08:45,English,2026-03-16\nWed,14:00,15:30,Lab,\n',
      opts(now),
    );
    const english = weekly.filter((p) => p.title === 'English');
    expect(english.map((p) => new Date(p.start).getDate())).toEqual([2, 9, 16]);
    const lab = weekly.filter((p) => p.title === 'Lab');
    expect(lab.length).toBeGreaterThanOrEqual(4);
    expect(new Date(lab[0]!.start).getDay()).toBe(3);
  });

  it('names the line of a bad CSV row', () => {
    expect(() =>
      parseCsvSchedule('date,start,end\n2026-03-03,10:00,10:45\n2026-03-03,11:00,10:00\n', opts(now)),
    ).toThrow(/CSV line 3: end must be after start/);
    expect(() => parseCsvSchedule('weekday,start,end\nfunday,10:00,11:00\n', opts(now))).toThrow(
      /CSV line 2: weekday/,
    );
    expect(() => parseCsvSchedule('date,start,end\n2026-03-03,9am,10:00\n', opts(now))).toThrow(/HH:MM/);
    expect(() => parseCsvSchedule('date,start,end\n2026-03-03,25:00,26:00\n', opts(now))).toThrow(/HH:MM/);
    expect(() => parseCsvSchedule('date,start,end\n2026-02-30,10:00,11:00\n', opts(now))).toThrow(
      /no such date/,
    );
  });
});

describe('schedule monitor (pre-class check, no-capture alarm, coverage)', () => {
  let t: TestCtx;
  let engine: AlarmEngine;
  let rollups: RollupsModule;
  let schedule: ScheduleModule;
  let prechecks: PrecheckResult[];
  const classStart = new Date(2026, 2, 2, 8, 0).getTime();

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(classStart - 30 * MIN);
    t = await makeCtx();
    const bus = new PeopleBus(t.ctx.log);
    prechecks = [];
    bus.on('schedule.precheck', (p) => prechecks.push(p));
    const store = new AlarmStore(t.db);
    await store.migrate();
    engine = new AlarmEngine(store, t.ctx.clock, bus, t.ctx.log);
    rollups = new RollupsModule(t.ctx);
    schedule = new ScheduleModule(t.ctx, bus, engine, rollups);
    await rollups.start();
    await schedule.start();
    await importSchedule(
      t.db,
      'R1',
      'csv',
      'date,start,end,title\n2026-03-02,08:00,08:45,Physics\n',
      Date.now(),
    );
  });

  afterEach(async () => {
    await schedule.stop();
    await rollups.stop();
    engine.stop();
    await engine.flush();
    vi.useRealTimers();
    await t.close();
  });

  const at = async (ms: number) => {
    vi.setSystemTime(ms);
    await schedule.tick();
  };
  const telemetry = (freeRatio: number) => ({
    v: 1 as const,
    session: 1,
    ts: Date.now(),
    cpuLoad: 0.1,
    memUsedBytes: 1,
    memTotalBytes: 2,
    diskFreeBytes: freeRatio * 1000,
    diskTotalBytes: 1000,
    temperatureC: null,
    uptimeS: 10,
    clockOffsetMs: null,
    outboxPending: 0,
  });

  it('passes the pre-class check for a healthy room and books covered minutes', async () => {
    t.registry.put(agentView('a1', 'R1', { telemetry: telemetry(0.5) }));
    await at(classStart - 11 * MIN);
    expect(prechecks).toHaveLength(0);
    await at(classStart - 9 * MIN);
    expect(prechecks).toMatchObject([{ room: 'R1', ok: true, problems: [], title: 'Physics' }]);
    for (let m = 0; m <= 45; m += 0.25) await at(classStart + m * MIN);
    await at(classStart + 50 * MIN);
    expect(engine.openCount()).toBe(0);
    const [row] = await rollups.query('R1', 'day', classStart - 86_400_000, classStart + 86_400_000);
    expect(row?.scheduledMinutes).toBeCloseTo(45, 0);
    expect(row?.coverageRatio).toBeCloseTo(1, 2);
    const [period] = await listPeriods(t.db, 'R1', 0, Number.MAX_SAFE_INTEGER);
    expect(period).toMatchObject({ precheck: { ok: true }, startCheck: { ok: true } });
  });

  it('alarms before class on a failed check, and when no mic is healthy by minute 5', async () => {
    const view = agentView('a1', 'R1', { telemetry: telemetry(0.02) });
    view.sources[1]!.status = 'down';
    t.registry.put(view);
    await at(classStart - 8 * MIN);
    expect(prechecks[0]?.ok).toBe(false);
    expect(prechecks[0]?.problems).toEqual(['microphone mic is down', 'disk 2% free']);
    await engine.flush();
    expect(engine.list().map((a) => [a.type, a.state])).toEqual([['schedule.precheck', 'active']]);

    for (let m = 0; m <= 4.75; m += 0.25) await at(classStart + m * MIN);
    expect(engine.openCount((a) => a.type === 'schedule.no-capture')).toBe(0);
    await at(classStart + 5 * MIN);
    const noCapture = engine.list().find((a) => a.type === 'schedule.no-capture');
    expect(noCapture).toMatchObject({
      state: 'active',
      room: 'R1',
      agent: 'a1',
      detail: { missing: 'microphone' },
    });

    // The mic comes back: both schedule alarms clear while the class runs.
    view.sources[1]!.status = 'ok';
    await at(classStart + 10 * MIN);
    expect(engine.openCount()).toBe(0);
    await at(classStart + 46 * MIN);
    const [row] = await rollups.query('R1', 'hour', classStart, classStart + 3_600_000);
    expect(row?.scheduledMinutes).toBeGreaterThan(40);
    expect(row?.coverageRatio).toBeGreaterThan(0.5);
    expect(row?.coverageRatio).toBeLessThan(0.95);
  });

  it('a room without an agent fails the check and gets a no-capture alarm', async () => {
    await at(classStart - 5 * MIN);
    expect(prechecks[0]?.problems).toEqual(['no agent for this room']);
    await at(classStart + 6 * MIN);
    expect(engine.list().find((a) => a.type === 'schedule.no-capture')).toMatchObject({
      agent: 'room:R1',
      state: 'active',
    });
    await at(classStart + 46 * MIN);
    expect(engine.openCount()).toBe(0);
  });
});

describe('schedule import for the CLI', () => {
  it('imports a CSV file into the data dir store, replacing the previous timetable', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { importScheduleFile } = await import('../src/schedule/cli.js');
    const { SqliteDb } = await import('../src/store/sqlite.js');
    const { databaseFile } = await import('../src/config.js');
    const dir = mkdtempSync(join(tmpdir(), 'people-cli-'));
    try {
      const file = join(dir, 'r1.csv');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      writeFileSync(file, `date,start,end,title\n${tomorrow},08:00,08:45,A\n${tomorrow},09:00,09:45,B\n`);
      expect(await importScheduleFile({ dataDir: dir, room: 'R1', file })).toMatchObject({
        room: 'R1',
        periods: 2,
      });
      writeFileSync(file, `date,start,end,title\n${tomorrow},10:00,10:45,C\n`);
      expect((await importScheduleFile({ dataDir: dir, room: 'R1', file })).periods).toBe(1);
      const db = new SqliteDb(databaseFile(dir));
      await db.open();
      const periods = await listPeriods(db, 'R1', 0, Number.MAX_SAFE_INTEGER);
      const audit = await db.all<{ actor: string; action: string; target: string; detail: string }>(
        'SELECT actor, action, target, detail FROM audit_log ORDER BY id',
      );
      await db.close();
      expect(periods.map((p) => p.title)).toEqual(['C']);
      // Each import is in the audit log as the CLI (docs/hub-staff.md).
      expect(audit.map((a) => `${a.actor} ${a.action} ${a.target} ${a.detail}`)).toEqual([
        'cli schedule.set R1 {"format":"csv","periods":2}',
        'cli schedule.set R1 {"format":"csv","periods":1}',
      ]);
      await expect(
        importScheduleFile({ dataDir: dir, room: 'R1', file: join(dir, 'x.txt') }),
      ).rejects.toThrow(/--format/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('classroom-hub schedule import (commander registration)', () => {
  it('imports through the CLI command and exits 2 on a bad file', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { Command } = await import('commander');
    const { registerScheduleCommand } = await import('../src/schedule/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'people-cli-'));
    const errors: string[] = [];
    const program = new Command('classroom-hub')
      .exitOverride()
      .configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => undefined });
    registerScheduleCommand(program);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const ics = join(dir, 'r.ics');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
      writeFileSync(
        ics,
        `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Art\r\nDTSTART:${tomorrow}T010000Z\r\nDTEND:${tomorrow}T014500Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
      );
      await program.parseAsync(['schedule', 'import', '--room', 'R9', '--file', ics, '--data-dir', dir], {
        from: 'user',
      });
      expect(JSON.parse(out.join(''))).toMatchObject({ room: 'R9', periods: 1 });
      const bad = join(dir, 'bad.csv');
      writeFileSync(bad, 'date,start,end\n2026-13-40,10:00,11:00\n');
      await expect(
        program.parseAsync(['schedule', 'import', '--room', 'R9', '--file', bad, '--data-dir', dir], {
          from: 'user',
        }),
      ).rejects.toMatchObject({ exitCode: 2 });
      expect(errors.join('')).toMatch(/CSV line 2/);
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

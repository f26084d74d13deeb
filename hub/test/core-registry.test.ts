// Availability rules (DESIGN.md "Agent availability") on the registry alone, with fake timers.
import { EventEmitter } from 'node:events';
import type { RecordT } from '@classroom/protocol';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBus, type HubEvents, systemClock } from '../src/context.js';
import { AgentRegistry } from '../src/registry/registry.js';
import { birth } from './core-helpers.js';

const log = pino({ level: 'silent' });

function setup() {
  const bus = createBus(new EventEmitter(), log);
  const changes: HubEvents['agent.availability'][] = [];
  bus.on('agent.availability', (e) => changes.push(e));
  const persisted: string[] = [];
  const reg = new AgentRegistry({
    clock: systemClock,
    bus,
    log,
    persist: (a) => persisted.push(`${a.agent}:${a.availability}`),
  });
  return { reg, changes, persisted };
}

const state = (s: 'online' | 'offline' | 'lost' | 'sleeping', session: number) => ({
  v: 1 as const,
  state: s,
  session,
  ts: Date.now(),
});

function event(seq: number, source: string, type: string): RecordT {
  return { seq, kind: 'event', source, ts: 1_000 + seq, type, detail: {} } as RecordT;
}

describe('AgentRegistry', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('goes lost after 3 silent telemetry intervals, and back online when heard again', () => {
    const { reg, changes } = setup();
    reg.start(1000);
    reg.onBirth('a1', birth('a1', 'R1', 1, 10));
    expect(reg.agent('a1')?.availability).toBe('online');
    vi.advanceTimersByTime(29_000);
    expect(reg.agent('a1')?.availability).toBe('online');
    vi.advanceTimersByTime(1_000);
    expect(reg.agent('a1')?.availability).toBe('lost');
    expect(changes.at(-1)).toMatchObject({
      agent: 'a1',
      availability: 'lost',
      previous: 'online',
      reason: 'silent',
      room: 'R1',
    });
    reg.onTelemetry('a1', {
      v: 1,
      session: 1,
      ts: Date.now(),
      cpuLoad: 0.1,
      memUsedBytes: 1,
      memTotalBytes: 2,
      diskFreeBytes: 1,
      diskTotalBytes: 2,
      temperatureC: null,
      uptimeS: 1,
      clockOffsetMs: null,
      outboxPending: 0,
    });
    expect(reg.agent('a1')?.availability).toBe('online');
    expect(reg.agent('a1')?.telemetry?.cpuLoad).toBe(0.1);
    reg.stop();
  });

  it('telemetry keeps an agent online', () => {
    const { reg } = setup();
    reg.start(1000);
    reg.onBirth('a1', birth('a1', 'R1', 1, 10));
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(10_000);
      reg.touch('a1');
    }
    expect(reg.agent('a1')?.availability).toBe('online');
    reg.stop();
  });

  it('ignores a stale will (older session) and applies a current one', () => {
    const { reg, changes } = setup();
    reg.onState('a1', state('online', 4));
    reg.onBirth('a1', birth('a1', 'R1', 4));
    reg.onState('a1', state('lost', 3));
    expect(reg.agent('a1')?.availability).toBe('online');
    reg.onState('a1', state('lost', 4));
    expect(reg.agent('a1')?.availability).toBe('lost');
    expect(changes.at(-1)?.reason).toBe('will');
  });

  it('offline on a clean stop, sleeping survives a birth of the same session, silence does not touch sleeping', () => {
    const { reg } = setup();
    reg.start(1000);
    reg.onState('a1', state('online', 1));
    reg.onState('a1', state('sleeping', 1));
    reg.onBirth('a1', birth('a1', 'R1', 1, 5));
    expect(reg.agent('a1')?.availability).toBe('sleeping');
    vi.advanceTimersByTime(60_000);
    expect(reg.agent('a1')?.availability).toBe('sleeping');
    reg.onState('a1', state('offline', 1));
    expect(reg.agent('a1')?.availability).toBe('offline');
    reg.stop();
  });

  it('lists agents known from the store as unknown after a restart, with their room', () => {
    const { reg, changes } = setup();
    reg.load({
      agent: 'a9',
      room: birth('a9', 'R9').room,
      birth: birth('a9', 'R9'),
      session: 7,
      lastSeen: 5,
    });
    expect(reg.agent('a9')).toMatchObject({ availability: 'unknown', session: 7, room: { id: 'R9' } });
    expect(reg.byRoom('R9').map((a) => a.agent)).toEqual(['a9']);
    expect(changes).toEqual([]);
    reg.onState('a9', state('lost', 6)); // a will from before the restart's session
    expect(reg.agent('a9')?.availability).toBe('unknown');
  });

  it('derives source health from committed events', () => {
    const { reg } = setup();
    reg.onBirth('a1', birth('a1', 'R1'));
    const status = () => Object.fromEntries(reg.agent('a1')?.sources.map((s) => [s.id, s.status]) ?? []);
    expect(status()).toEqual({ cam: 'ok', mic: 'ok' });
    reg.onRecords(
      'a1',
      [event(1, 'cam', 'video.black.start'), event(2, 'mic', 'audio.silence.start')],
      false,
    );
    expect(status()).toEqual({ cam: 'black', mic: 'silent' });
    reg.onRecords('a1', [event(3, 'cam', 'source.down')], false);
    expect(status()).toEqual({ cam: 'down', mic: 'silent' });
    reg.onRecords('a1', [event(4, 'cam', 'source.up'), event(5, 'mic', 'audio.silence.end')], false);
    expect(status()).toEqual({ cam: 'black', mic: 'ok' });
    reg.onRecords('a1', [event(6, 'cam', 'video.black.end')], false);
    expect(status()).toEqual({ cam: 'ok', mic: 'ok' });
    expect(reg.agent('a1')?.sources.find((s) => s.id === 'cam')?.since).toBe(1_006);
  });
});

// Unit tests of the identity rules and abuse limits, each module on its own with an injected clock
// (SECURITY.md "Security tests" lists what each proves).
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Accounts } from '../src/auth/accounts.js';
import {
  addressKey,
  checkClientId,
  clip,
  clipLogFields,
  MAX_CLIENT_ID_LENGTH,
} from '../src/auth/identity.js';
import { LoginThrottle } from '../src/auth/throttle.js';
import { Admission } from '../src/broker/admission.js';
import { DEFAULT_LIMITS, resolveLimits } from '../src/broker/connect-guard.js';
import { PersistentSessions, type SessionPersistence } from '../src/broker/sessions.js';
import { ConfigError } from '../src/config.js';
import { type Clock, createBus, type HubEvents } from '../src/context.js';
import { AgentRegistry } from '../src/registry/registry.js';
import { openStore } from '../src/store/open.js';
import { migrateCore } from '../src/store/schema.js';
import { birth, tempDir } from './core-helpers.js';

const fakeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t),
};

beforeEach(() => {
  vi.useFakeTimers({ now: 1_800_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('client id rules', () => {
  it('an agent must use its agent id as client id', () => {
    const box = { username: 'box-a', role: 'agent' as const };
    expect(checkClientId(box, 'box-a', true)).toEqual({ ok: true });
    expect(checkClientId(box, 'box-a', false)).toEqual({ ok: true });
    const taken = checkClientId(box, 'box-b', true);
    expect(taken.ok).toBe(false);
    if (!taken.ok) expect(taken.code).toBe('client_id_mismatch');
    expect(checkClientId(box, 'box-a-2', true).ok).toBe(false);
    expect(checkClientId(box, '', true).ok).toBe(false);
  });

  it('a platform account uses its username or <username>-…, and only its username for a persistent session', () => {
    const tsp = { username: 'tsp', role: 'platform' as const };
    expect(checkClientId(tsp, 'tsp', true).ok).toBe(true);
    expect(checkClientId(tsp, 'tsp-worker-1', true).ok).toBe(true);
    expect(checkClientId(tsp, 'tspx', true).ok).toBe(false);
    expect(checkClientId(tsp, 'box-a', true).ok).toBe(false);
    expect(checkClientId(tsp, 'tsp', false).ok).toBe(true);
    const second = checkClientId(tsp, 'tsp-worker-1', false);
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.code).toBe('persistent_session');
  });

  it('clips logged strings, keeps the cut visible and escapes control characters', () => {
    const huge = 'x'.repeat(1_000_000);
    const c = clip(huge);
    expect(c.length).toBeLessThan(100);
    expect(c).toContain('…(+999920)');
    expect(clip('ok')).toBe('ok');
    expect(clip('a\nb\u001b[31m')).toBe('a\\x0ab\\x1b[31m');
    expect(MAX_CLIENT_ID_LENGTH).toBe(64);
  });

  it('cuts every long string of a log entry, one level deep, and leaves errors to their serializer', () => {
    const err = new Error('x'.repeat(10_000));
    const entry = {
      msg: 'ok',
      clientId: 'c'.repeat(1_000_000),
      nested: { topic: 't'.repeat(5000), n: 1 },
      err,
    };
    const out = clipLogFields(entry);
    expect((out.clientId as string).length).toBeLessThan(2100);
    expect((out.nested as { topic: string }).topic.length).toBeLessThan(2100);
    expect((out.nested as { n: number }).n).toBe(1);
    expect(out.err).toBe(err);
    expect(out.msg).toBe('ok');
    const small = { a: 'short' };
    expect(clipLogFields(small)).toBe(small);
  });

  it('keys IPv4 (also mapped) as is and IPv6 by its /64', () => {
    expect(addressKey('127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('::ffff:127.0.0.3')).toBe('127.0.0.3');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('limit settings', () => {
  it('defaults to a 10 s CONNECT deadline and takes the environment variables', () => {
    expect(resolveLimits({}, {}).admission.connectTimeoutMs).toBe(10_000);
    expect(DEFAULT_LIMITS.sessions.expiryMs).toBe(2 * 3600_000);
    const l = resolveLimits(
      {},
      {
        CLASSROOM_HUB_MQTT_CONNECT_TIMEOUT_S: '2.5',
        CLASSROOM_HUB_MQTT_MAX_UNAUTHENTICATED: '8',
        CLASSROOM_HUB_MQTT_SESSION_EXPIRY_S: '60',
        CLASSROOM_HUB_MQTT_SESSION_MAX_QUEUED: '10',
      },
    );
    expect(l.admission).toEqual({ connectTimeoutMs: 2500, maxUnauthenticatedPerAddress: 8 });
    expect(l.sessions).toMatchObject({ expiryMs: 60_000, maxQueued: 10 });
    expect(() => resolveLimits({}, { CLASSROOM_HUB_MQTT_CONNECT_TIMEOUT_S: 'soon' })).toThrow(ConfigError);
    expect(() => resolveLimits({}, { CLASSROOM_HUB_MQTT_CONNECT_TIMEOUT_S: 'soon' })).toThrow(
      /CLASSROOM_HUB_MQTT_CONNECT_TIMEOUT_S must be a positive number, got "soon"/,
    );
  });
});

describe('LoginThrottle', () => {
  const opts = {
    addressFreeFailures: 10,
    userFreeFailures: 3,
    baseDelayMs: 1000,
    maxDelayMs: 8000,
    forgetAfterMs: 60_000,
    maxKeys: 1000,
  };

  it('blocks (address, username) after the free failures, doubling up to the ceiling', () => {
    const t = new LoginThrottle(fakeClock, opts);
    for (let i = 0; i < 3; i++) {
      expect(t.check('10.0.0.1', 'box-a').ok).toBe(true);
      t.failure('10.0.0.1', 'box-a');
    }
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(true);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      t.failure('10.0.0.1', 'box-a');
      const d = t.check('10.0.0.1', 'box-a');
      expect(d.ok).toBe(false);
      if (!d.ok) {
        expect(d.scope).toBe('address_user');
        delays.push(d.retryAfterMs);
      }
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    vi.advanceTimersByTime(7999);
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(false);
    vi.advanceTimersByTime(1);
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(true);
  });

  it('never blocks a box at its own address for failures from another address', () => {
    const t = new LoginThrottle(fakeClock, opts);
    for (let i = 0; i < 50; i++) t.failure('127.0.0.3', i % 2 === 0 ? 'box-a' : `guess-${i}`);
    expect(t.check('127.0.0.3', 'box-a').ok).toBe(false);
    const other = t.check('127.0.0.3', 'anyone');
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.scope).toBe('address');
    expect(t.check('127.0.0.2', 'box-a')).toEqual({ ok: true });
  });

  it('a success clears its pair but not the address count; idle keys are forgotten', () => {
    const t = new LoginThrottle(fakeClock, opts);
    for (let i = 0; i < 3; i++) t.failure('10.0.0.1', 'box-a');
    t.success('10.0.0.1', 'box-a');
    t.failure('10.0.0.1', 'box-a');
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(true);
    for (let i = 0; i < 10; i++) t.failure('10.0.0.1', `u${i}`);
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(false);
    t.success('10.0.0.1', 'box-a');
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(t.check('10.0.0.1', 'box-a').ok).toBe(true);
    expect(t.size()).toBeLessThan(12);
  });

  it('holds a bounded number of keys whatever an attacker sends', () => {
    const t = new LoginThrottle(fakeClock, { ...opts, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) t.failure(`10.0.${i >> 8}.${i & 255}`, 'x'.repeat(10_000));
    expect(t.size()).toBeLessThanOrEqual(100);
  });
});

describe('Admission', () => {
  it('closes a socket whose CONNECT does not arrive in time, and not one whose CONNECT did', () => {
    const timedOut: string[] = [];
    const a = new Admission(
      fakeClock,
      { maxUnauthenticatedPerAddress: 10, connectTimeoutMs: 10_000 },
      { refused: () => undefined, timedOut: (addr) => timedOut.push(addr) },
    );
    const silent = new PassThrough();
    const talks = new PassThrough();
    expect(a.admit(silent, '127.0.0.2')).toBe(true);
    expect(a.admit(talks, '127.0.0.2')).toBe(true);
    vi.advanceTimersByTime(5000);
    a.connectArrived(talks);
    vi.advanceTimersByTime(4999);
    expect(silent.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(silent.destroyed).toBe(true);
    expect(talks.destroyed).toBe(false);
    expect(timedOut).toEqual(['127.0.0.2']);
  });

  it('caps sockets without CONNECT per address; other addresses and sockets whose CONNECT arrived do not count', async () => {
    const refused: string[] = [];
    const a = new Admission(
      fakeClock,
      { maxUnauthenticatedPerAddress: 3, connectTimeoutMs: 10_000 },
      { refused: (addr) => refused.push(addr), timedOut: () => undefined },
    );
    const s = Array.from({ length: 3 }, () => new PassThrough());
    for (const x of s) expect(a.admit(x, '::ffff:127.0.0.2')).toBe(true);
    const over = new PassThrough();
    expect(a.admit(over, '127.0.0.2')).toBe(false);
    expect(over.destroyed).toBe(true);
    expect(refused).toEqual(['127.0.0.2']);
    expect(a.admit(new PassThrough(), '127.0.0.3')).toBe(true);
    a.connectArrived(s[0] as PassThrough);
    expect(a.admit(new PassThrough(), '127.0.0.2')).toBe(true);
    (s[1] as PassThrough).destroy();
    await vi.waitFor(() => expect(a.unauthenticated()).toBe(3));
    expect(a.admit(new PassThrough(), '127.0.0.2')).toBe(true);
    expect(a.unauthenticated()).toBe(4);
  });
});

describe('PersistentSessions', () => {
  function memory() {
    const subs = new Set<string>();
    const queues = new Map<string, object[]>();
    const p: SessionPersistence = {
      cleanSubscriptions: async (c) => subs.delete(c.id),
      cleanIncoming: async () => undefined,
      delWill: async () => undefined,
      // The broker's stream is async iterable, like this generator.
      outgoingStream: (c) => ({
        [Symbol.asyncIterator]: async function* () {
          yield* [...(queues.get(c.id) ?? [])];
        },
      }),
      outgoingClearMessageId: async (c, packet) => {
        const q = queues.get(c.id) ?? [];
        q.splice(q.indexOf(packet as object), 1);
      },
    };
    return { p, subs, queues };
  }

  it('deletes a session offline past its expiry, keeps a connected or recent one', async () => {
    const m = memory();
    const deleted: string[] = [];
    const s = new PersistentSessions(
      fakeClock,
      () => m.p,
      () => false,
      { expiryMs: 60_000, maxQueued: 100, sweepEveryMs: 1000 },
      (id, reason) => deleted.push(`${id}:${reason}`),
    );
    m.subs.add('box-a');
    m.subs.add('tsp');
    m.queues.set('box-a', [{ n: 1 }, { n: 2 }]);
    s.connected('box-a', false);
    s.connected('tsp', false);
    s.connected('box-c', true);
    expect(s.counts()).toEqual({ connected: 2, offline: 0 });
    s.disconnected('box-a');
    vi.advanceTimersByTime(59_000);
    await s.sweep();
    expect(deleted).toEqual([]);
    vi.advanceTimersByTime(1000);
    await s.sweep();
    expect(deleted).toEqual(['box-a:expired']);
    expect(m.subs.has('box-a')).toBe(false);
    expect(m.queues.get('box-a')).toEqual([]);
    expect(m.subs.has('tsp')).toBe(true);
    expect(s.counts()).toEqual({ connected: 1, offline: 0 });
  });

  it('deletes an offline session whose queue passed its bound before the expiry', async () => {
    const m = memory();
    const deleted: string[] = [];
    const s = new PersistentSessions(
      fakeClock,
      () => m.p,
      () => false,
      { expiryMs: 3_600_000, maxQueued: 5, sweepEveryMs: 1000 },
      (id, reason) => deleted.push(`${id}:${reason}`),
    );
    s.connected('tsp', false);
    s.disconnected('tsp');
    m.queues.set(
      'tsp',
      Array.from({ length: 5 }, (_, n) => ({ n })),
    );
    await s.sweep();
    expect(deleted).toEqual([]);
    m.queues.get('tsp')?.push({ n: 6 });
    await s.sweep();
    expect(deleted).toEqual(['tsp:queue_full']);
    expect(m.queues.get('tsp')).toEqual([]);
  });
});

describe('Accounts', () => {
  it('runs the scrypt check for an unknown username as for a wrong password', async () => {
    const t = tempDir();
    const db = await openStore({ dataDir: t.dir });
    try {
      await migrateCore(db);
      vi.useRealTimers();
      const calls: string[] = [];
      const { verifySecret } = await import('../src/auth/secrets.js');
      const accounts = new Accounts(db, {
        verify: async (secret, stored) => {
          calls.push(stored.split('$')[0] ?? '');
          return verifySecret(secret, stored);
        },
      });
      const creds = await accounts.addAgent({ agent: 'box-a', room: 'R1' });
      expect(await accounts.authenticate('nobody', 'guess')).toBeNull();
      expect(await accounts.authenticate('box-a', 'guess')).toBeNull();
      expect(calls).toEqual(['scrypt', 'scrypt']);
      const [dummy, real] = calls;
      expect(dummy).toBe(real);
      expect(await accounts.authenticate('box-a', creds.password)).toMatchObject({
        username: 'box-a',
        role: 'agent',
        room: 'R1',
      });
      expect(await accounts.authenticate('nobody-else', 'guess')).toBeNull();
      expect(calls).toHaveLength(4);
    } finally {
      await db.close();
      t.remove();
    }
  });
});

describe('AgentRegistry: the provisioned room is authoritative', () => {
  function registry() {
    const bus = createBus(new EventEmitter(), { error: () => undefined } as never);
    const mismatches: Array<HubEvents['agent.room_mismatch']> = [];
    const moves: Array<HubEvents['agent.moved']> = [];
    bus.on('agent.room_mismatch', (e) => mismatches.push(e));
    bus.on('agent.moved', (e) => moves.push(e));
    const r = new AgentRegistry({
      clock: fakeClock,
      bus,
      log: { info: () => undefined, debug: () => undefined },
    });
    return { r, mismatches, moves };
  }
  const room = (id: string) => ({ id, name: id, building: '', floor: '', campus: '' });

  it('files a birth naming another room under the provisioned one and reports the mismatch', () => {
    const { r, mismatches } = registry();
    r.ensure('box-a', room('room-a'));
    r.onBirth('box-a', birth('box-a', 'room-b'));
    expect(r.roomOf('box-a')).toBe('room-a');
    expect(r.agent('box-a')?.room?.id).toBe('room-a');
    expect(r.byRoom('room-b')).toEqual([]);
    expect(r.byRoom('room-a').map((a) => a.agent)).toEqual(['box-a']);
    expect(mismatches.map((m) => [m.room, m.claimed, m.mismatch, m.cause])).toEqual([
      ['room-a', 'room-b', true, 'birth'],
    ]);
    r.onBirth('box-a', birth('box-a', 'room-a', 2));
    expect(mismatches.at(-1)).toMatchObject({ mismatch: false, cause: 'birth' });
    expect(r.agent('box-a')?.room?.name).toBe('Room room-a');
    expect(r.sourceIdsOf('box-a')).toEqual(new Set(['cam', 'mic']));
  });

  it('after a restart a matching birth still reports the end of a mismatch (the open alarm is in the store)', () => {
    const { r, mismatches } = registry();
    r.load({
      agent: 'box-a',
      room: room('room-a'),
      birth: birth('box-a', 'room-b'),
      session: 1,
      lastSeen: null,
    });
    r.ensure('box-a', room('room-a'));
    r.onBirth('box-a', birth('box-a', 'room-a', 2));
    expect(mismatches).toEqual([
      expect.objectContaining({ room: 'room-a', mismatch: false, cause: 'birth' }),
    ]);
  });

  it('a move takes effect at once and re-checks the current birth', () => {
    const { r, mismatches, moves } = registry();
    r.ensure('box-a', room('room-a'));
    r.onBirth('box-a', birth('box-a', 'room-b'));
    r.ensure('box-a', room('room-b'));
    expect(r.roomOf('box-a')).toBe('room-b');
    expect(moves).toEqual([expect.objectContaining({ agent: 'box-a', from: 'room-a', to: 'room-b' })]);
    expect(mismatches.at(-1)).toMatchObject({ room: 'room-b', mismatch: false, cause: 'move' });
    expect(r.agent('box-a')?.room?.name).toBe('Room room-b');
    r.ensure('box-a', room('room-b'));
    expect(moves).toHaveLength(1);
  });
});

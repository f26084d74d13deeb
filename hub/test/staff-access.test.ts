// Staff accounts, sessions and the role of every route (docs/hub-people.md, "Roles"), against a real
// in-process hub: real HTTP, real SQLite, cookies as a browser would send them. Every response is
// also checked against /api/openapi.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes } from '../src/staff/access.js';
import { roleAllows, STAFF_ROLES, type StaffRole } from '../src/staff/roles.js';
import { type InProcessHub, inProcessHub, TOKEN } from './core-helpers.js';
import { checkResponse } from './openapi-responses.js';

let h: InProcessHub;
let base: string;

interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call with an optional session cookie or bearer token, checked against the OpenAPI document. */
async function call<T = unknown>(
  method: string,
  path: string,
  opts: { cookie?: string; token?: string; body?: unknown; origin?: string; ip?: string } = {},
): Promise<Reply<T>> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.origin ? { origin: opts.origin } : {}),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  await checkResponse(base, method, path, res.status, res.headers.get('content-type'), text);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

async function login(name: string, password: string): Promise<string> {
  const r = await call<{ name: string }>('POST', '/api/session', { body: { name, password } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const set = r.headers.get('set-cookie') ?? '';
  const m = /classroom_session=([^;]+)/.exec(set);
  if (!m) throw new Error(`no session cookie in ${set}`);
  return `classroom_session=${m[1]}`;
}

const cookies: Partial<Record<StaffRole, string>> = {};
const passwords: Partial<Record<StaffRole, string>> = {};

beforeAll(async () => {
  h = await inProcessHub();
  base = `http://127.0.0.1:${h.hub.httpPort}`;
  for (const role of STAFF_ROLES) {
    const r = await call<{ name: string; role: string; password: string }>('POST', '/api/users', {
      token: TOKEN,
      body: { name: `${role}-1`, role },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ name: `${role}-1`, role, password: expect.stringMatching(/^[\w-]{32}$/) });
    passwords[role] = r.body.password;
    cookies[role] = await login(`${role}-1`, r.body.password);
  }
  expect(
    (await call('POST', '/api/agents', { token: TOKEN, body: { agent: 'box-1', room: 'R1' } })).status,
  ).toBe(201);
});

afterAll(async () => {
  await h?.stop();
});

describe('staff accounts and sessions', () => {
  it('stores only a scrypt hash of the password and sets a strict, expiring HttpOnly cookie', async () => {
    const row = await h.hub.ctx.db.get<{ secret_hash: string }>(
      'SELECT secret_hash FROM staff_users WHERE name = ?',
      ['viewer-1'],
    );
    expect(row?.secret_hash).toMatch(/^scrypt\$/);
    expect(row?.secret_hash).not.toContain(passwords.viewer);
    const r = await call('POST', '/api/session', { body: { name: 'viewer-1', password: passwords.viewer } });
    const set = r.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Max-Age=43200/);
    expect(set).toMatch(/Path=\//);
    expect(set).not.toMatch(/Secure/i); // plain HTTP: a Secure cookie would never come back
    const id = /classroom_session=([^;]+)/.exec(set)?.[1] ?? '';
    const stored = await h.hub.ctx.db.all<{ id_hash: string }>('SELECT id_hash FROM staff_sessions');
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.some((s) => s.id_hash === id)).toBe(false); // only its hash is kept
  });

  it('says who is logged in, and a logout ends the session on the hub', async () => {
    expect((await call('GET', '/api/session')).body).toEqual({ user: null });
    const me = await call<{ user: { name: string; role: string; via: string } }>('GET', '/api/session', {
      cookie: cookies.operator,
    });
    expect(me.body.user).toMatchObject({ name: 'operator-1', role: 'operator', via: 'session' });
    expect((await call('GET', '/api/session', { token: TOKEN })).body).toMatchObject({
      user: { name: 'admin-token', role: 'admin', via: 'token', expiresAt: null },
    });
    const c = await login('viewer-1', passwords.viewer ?? '');
    expect((await call('GET', '/api/rooms', { cookie: c })).status).toBe(200);
    const out = await call('DELETE', '/api/session', { cookie: c });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/classroom_session=;/);
    expect((await call('GET', '/api/rooms', { cookie: c })).status).toBe(401);
  });

  it('refuses a wrong password, then throttles that name from that address with Retry-After', async () => {
    const bad = await call('POST', '/api/session', { body: { name: 'viewer-1', password: 'nope' } });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_login' } });
    const unknown = await call('POST', '/api/session', { body: { name: 'ghost', password: 'nope' } });
    expect(unknown.status).toBe(401);
    for (let i = 0; i < 4; i++)
      await call('POST', '/api/session', { body: { name: 'viewer-1', password: 'x' } });
    const held = await call('POST', '/api/session', {
      body: { name: 'viewer-1', password: passwords.viewer },
    });
    expect(held.status).toBe(429);
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(0);
    // The other users of the address are not locked out by it.
    expect(
      (await call('POST', '/api/session', { body: { name: 'admin-1', password: passwords.admin } })).status,
    ).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/classroom_hub_staff_logins_total\{outcome="throttled"\} [1-9]/);
    expect(metrics).toMatch(/classroom_hub_staff_logins_total\{outcome="invalid"\} [1-9]/);
  });

  it('disabling a user ends their sessions at once, and a new password ends the old ones', async () => {
    const add = await call<{ password: string }>('POST', '/api/users', {
      cookie: cookies.admin,
      body: { name: 'temp.staff', role: 'operator' },
    });
    expect(add.status).toBe(201);
    const dup = await call('POST', '/api/users', {
      cookie: cookies.admin,
      body: { name: 'temp.staff', role: 'viewer' },
    });
    expect(dup.status).toBe(409);
    const c1 = await login('temp.staff', add.body.password);
    const rot = await call<{ password: string; role: string }>('POST', '/api/users', {
      cookie: cookies.admin,
      body: { name: 'temp.staff', role: 'viewer', rotate: true },
    });
    expect(rot.body.role).toBe('viewer');
    expect((await call('GET', '/api/rooms', { cookie: c1 })).status).toBe(401);
    const c2 = await login('temp.staff', rot.body.password);
    expect((await call('POST', '/api/users/temp.staff/disable', { cookie: cookies.admin })).status).toBe(200);
    expect((await call('GET', '/api/rooms', { cookie: c2 })).status).toBe(401);
    const again = await call('POST', '/api/session', {
      body: { name: 'temp.staff', password: rot.body.password },
    });
    expect(again.status).toBe(401);
    const list = await call<{ users: Array<{ name: string; disabled: boolean }> }>('GET', '/api/users', {
      cookie: cookies.admin,
    });
    expect(list.body.users.find((u) => u.name === 'temp.staff')).toMatchObject({ disabled: true });
    expect(JSON.stringify(list.body)).not.toContain('scrypt');
    const reserved = await call('POST', '/api/users', { token: TOKEN, body: { name: 'cli', role: 'admin' } });
    expect(reserved.status).toBe(400);
  });

  it('refuses a cookie-authenticated change from another origin', async () => {
    const r = await call('POST', '/api/agents/box-1/commands', {
      cookie: cookies.operator,
      origin: 'http://evil.example',
      body: { name: 'rebirth' },
    });
    expect(r.status).toBe(403);
  });
});

describe('every route checks the role', () => {
  it('has a written access rule for every /api route', () => {
    const routes = listRoutes(h.hub.http);
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes
      .filter((r) => r.url.startsWith('/api/') && !r.rule)
      .map((r) => `${r.method} ${r.url}`);
    expect(missing, 'routes without a rule in hub/src/staff/policy.ts').toEqual([]);
    // Changes must be audited: every unsafe route names its audit action (or records it itself).
    const unaudited = routes
      .filter((r) => r.url.startsWith('/api/') && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
      .filter((r) => !r.rule?.audit)
      .map((r) => `${r.method} ${r.url}`);
    expect(unaudited, 'changing routes without an audit rule').toEqual([]);
  });

  it('answers anonymous, viewer, operator and admin callers as each route’s rule says', async () => {
    const routes = listRoutes(h.hub.http).filter(
      (r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && !r.url.startsWith('/api/docs'),
    );
    const outcomes: string[] = [];
    for (const r of routes) {
      const path = r.url.replace(/:(\w+)/g, 'no-such-$1').replace(/\*$/, '');
      const access = r.rule?.access ?? 'admin';
      // Logging out would end the caller's session: it is public and tried anonymously only.
      const callers: Array<StaffRole | 'anonymous'> =
        r.url === '/api/session' && r.method === 'DELETE' ? ['anonymous'] : ['anonymous', ...STAFF_ROLES];
      for (const who of callers) {
        const res = await call(r.method, path, {
          ...(who === 'anonymous' ? {} : { cookie: cookies[who] }),
          ...(['POST', 'PUT', 'PATCH'].includes(r.method) ? { body: {} } : {}),
        });
        const expected =
          access === 'public'
            ? 'allowed'
            : who === 'anonymous'
              ? 401
              : roleAllows(who, access)
                ? 'allowed'
                : 403;
        const got = res.status === 401 || res.status === 403 ? res.status : 'allowed';
        outcomes.push(
          `${r.method} ${r.url} as ${who}: ${got}${got === expected ? '' : ` (expected ${expected})`}`,
        );
      }
    }
    expect(outcomes.filter((o) => o.includes('expected'))).toEqual([]);
    // The table is not vacuous: each kind of answer occurs.
    expect(outcomes.some((o) => o.endsWith(': 401'))).toBe(true);
    expect(outcomes.some((o) => o.includes('as viewer: 403'))).toBe(true);
    expect(outcomes.some((o) => o.includes('as operator: 403'))).toBe(true);
    expect(outcomes.some((o) => o.includes('POST /api/alarms/:id/ack as operator: allowed'))).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/classroom_hub_http_refused_total\{reason="unauthorized"\} [1-9]/);
    expect(metrics).toMatch(/classroom_hub_http_refused_total\{reason="forbidden"\} [1-9]/);
  });

  it('keeps the admin token working for automation, as admin, and refuses a wrong one', async () => {
    expect((await call('GET', '/api/audit', { token: TOKEN })).status).toBe(200);
    expect((await call('GET', '/api/audit', { token: 'wrong-token-wrong-token' })).status).toBe(401);
  });
});

describe('audit log', () => {
  it('records commands and snapshots with who, when and from where, and refused attempts', async () => {
    const t0 = Date.now();
    const cmd = await call<{ id: string }>('POST', '/api/agents/box-1/commands', {
      cookie: cookies.operator,
      body: { name: 'snapshot', args: { source: 'cam' } },
    });
    expect(cmd.status).toBe(202);
    expect(
      (
        await call('POST', '/api/agents/box-1/commands', {
          cookie: cookies.viewer,
          body: { name: 'rebirth' },
        })
      ).status,
    ).toBe(403);
    const q = await call<{
      entries: Array<{
        actor: string;
        role: string;
        action: string;
        target: string;
        ip: string;
        ts: number;
        detail: unknown;
      }>;
    }>('GET', `/api/audit?from=${t0}&user=operator-1&action=snapshot.take`, { cookie: cookies.admin });
    expect(q.status).toBe(200);
    expect(q.body.entries).toHaveLength(1);
    expect(q.body.entries[0]).toMatchObject({
      actor: 'operator-1',
      role: 'operator',
      action: 'snapshot.take',
      target: 'box-1',
      ip: '127.0.0.1',
      detail: { name: 'snapshot', args: { source: 'cam' } },
    });
    expect(q.body.entries[0]?.ts).toBeGreaterThanOrEqual(t0);
    const denied = await call<{ entries: Array<{ actor: string; target: string }> }>(
      'GET',
      `/api/audit?from=${t0}&action=access.denied&user=viewer-1`,
      { token: TOKEN },
    );
    expect(denied.body.entries[0]).toMatchObject({
      actor: 'viewer-1',
      target: 'POST /api/agents/:id/commands',
    });
    // Provisioning by the token, user administration and logins are in it too.
    const all = await call<{ entries: Array<{ actor: string; action: string; target: string | null }> }>(
      'GET',
      '/api/audit?limit=1000',
      { token: TOKEN },
    );
    const seen = all.body.entries.map((e) => `${e.actor} ${e.action} ${e.target ?? ''}`);
    expect(seen).toContain('admin-token agent.provision box-1');
    expect(seen).toContain('admin-token user.add viewer-1');
    expect(seen).toContain('admin-1 user.disable temp.staff');
    expect(seen).toContain('viewer-1 session.login ');
    expect(seen).toContain('viewer-1 session.login_failed ');
    // Paging: two at a time, newest first, no entry twice.
    const p1 = await call<{ entries: Array<{ id: number }>; nextCursor: string }>(
      'GET',
      '/api/audit?limit=2',
      { token: TOKEN },
    );
    const p2 = await call<{ entries: Array<{ id: number }> }>(
      'GET',
      `/api/audit?limit=2&cursor=${p1.body.nextCursor}`,
      { token: TOKEN },
    );
    expect(p2.body.entries[0]?.id).toBeLessThan(p1.body.entries[1]?.id ?? 0);
    const csv = await fetch(`${base}/api/audit?format=csv&action=user.`, {
      headers: { cookie: cookies.admin ?? '' },
    });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect(await csv.text()).toMatch(/^id,ts,actor,role,action,target,detail,ip\n/);
    expect((await call('GET', '/api/audit', { cookie: cookies.operator })).status).toBe(403);
  });
});

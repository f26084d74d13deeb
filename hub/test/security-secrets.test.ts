// Secrets of the hub, against the real bin (docs/hub.md "Secrets", SECURITY.md): the admin token from a
// file and never on the command line, its rotation while the hub runs, ?token= only on /api/stream,
// query strings kept out of the log, agents disable / enable / reset-password cutting a live box off,
// and the modes of the data dir and its files. Needs the built workspace (`npx tsc -b`).
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tempDir, waitFor } from './core-helpers.js';
import {
  boxRefused,
  connectBox,
  curl,
  type HubProcess,
  hubCli,
  hubCliFails,
  serveHub,
} from './security-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const t = tempDir('hub-secrets-');
  cleanups.push(() => t.remove());
  return t.dir;
}

async function hub(args: string[], env: Record<string, string> = {}): Promise<HubProcess> {
  const h = await serveHub(args, env);
  cleanups.push(() => h.stop());
  return h;
}

const mode = (p: string) => statSync(p).mode & 0o777;

async function status(port: number, path: string, token: string | null): Promise<number> {
  const r = await curl([
    ...(token ? ['-H', `Authorization: Bearer ${token}`] : []),
    `http://127.0.0.1:${port}${path}`,
  ]);
  return r.status;
}

describe('admin token', () => {
  it('is read from --admin-token-file, never on the command line; rotate swaps it while the hub runs', async () => {
    const dir = dataDir();
    const file = join(dir, '..', `${dir.split('/').pop()}-token`);
    const token = 'file-token-0123456789abcdef';
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    cleanups.push(() => writeFileSync(file, ''));
    const h = await hub(['--data-dir', dir, '--admin-token-file', file]);
    // What `ps` shows: the process's argv.
    const cmdline = readFileSync(`/proc/${h.proc.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain('--admin-token-file');
    expect(cmdline).not.toContain(token);
    expect(await status(h.httpPort, '/api/agents', token)).toBe(200);
    expect(await status(h.httpPort, '/api/agents', 'wrong-token-0123456789')).toBe(401);

    // The data dir and the database are the hub user's alone.
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'hub.db'))).toBe(0o600);

    const rotated = await hubCli<{ adminToken: string; files: string[] }>([
      'admin-token',
      'rotate',
      '--data-dir',
      dir,
      '--admin-token-file',
      file,
    ]);
    expect(rotated.adminToken.length).toBeGreaterThanOrEqual(16);
    expect(rotated.adminToken).not.toBe(token);
    // Bounded by the hub's poll interval (1 s), with room for a loaded machine.
    await waitFor(
      'the running hub to take the rotated token',
      async () =>
        (await status(h.httpPort, '/api/agents', rotated.adminToken)) === 200 &&
        (await status(h.httpPort, '/api/agents', token)) === 401,
      30_000,
      200,
    );
    expect(readFileSync(file, 'utf8').trim()).toBe(rotated.adminToken);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(rotated.adminToken);
    expect(mode(join(dir, 'admin-token'))).toBe(0o600);
    await waitFor('the swap logged', () =>
      h.output().includes('admin token: using the one rotated in the store'),
    );
    expect(h.output()).not.toContain(rotated.adminToken);
  });

  it('warns when given on the command line, and a generated token file is 0600', async () => {
    const dir = dataDir();
    const h = await hub(['--data-dir', dir, '--admin-token', 'cli-visible-token-0123456789']);
    expect(h.output()).toContain('visible to every user in ps');
    const dir2 = dataDir();
    const h2 = await hub(['--data-dir', dir2]);
    const generated = readFileSync(join(dir2, 'admin-token'), 'utf8').trim();
    expect(mode(join(dir2, 'admin-token'))).toBe(0o600);
    expect(await status(h2.httpPort, '/api/agents', generated)).toBe(200);
    expect(h2.output()).not.toContain('visible to every user in ps');
  });

  it('refuses a token file that is too short, and --admin-token with --admin-token-file', async () => {
    const dir = dataDir();
    const short = join(dir, 'short');
    writeFileSync(short, 'short\n', { mode: 0o600 });
    const r = await hubCliFails([
      'serve',
      '--data-dir',
      dir,
      '--admin-token-file',
      short,
      '--http-port',
      '0',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least 16 characters/);
    const both = await hubCliFails([
      'serve',
      '--data-dir',
      dir,
      '--admin-token-file',
      short,
      '--admin-token',
      'x'.repeat(20),
    ]);
    expect(both.stderr).toMatch(/cannot be used with/);
  });
});

describe('token in the query string', () => {
  it('is accepted on /api/stream only, and query strings never reach the log', async () => {
    const dir = dataDir();
    const token = 'query-token-0123456789abcdef';
    const h = await hub(['--data-dir', dir], { CLASSROOM_HUB_ADMIN_TOKEN: token });
    const q = await curl([`http://127.0.0.1:${h.httpPort}/api/agents?token=${token}`]);
    expect(q.status).toBe(401);
    expect(q.body).toContain('accepted only on /api/stream');
    const csv = await curl([`http://127.0.0.1:${h.httpPort}/api/records?format=csv&token=${token}`]);
    expect(csv.status).toBe(401);
    // Unknown routes and bad requests with a query string, which the hub may log.
    await curl([`http://127.0.0.1:${h.httpPort}/no/such/route?token=${token}&secret=query-secret-xyz`]);
    await curl([
      '-H',
      `Authorization: Bearer ${token}`,
      `http://127.0.0.1:${h.httpPort}/api/records?limit=abc&secret=query-secret-xyz`,
    ]);

    const ws = new WebSocket(`ws://127.0.0.1:${h.httpPort}/api/stream?token=${encodeURIComponent(token)}`);
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(String(m)));
      ws.once('error', reject);
    });
    expect(JSON.parse(hello).type).toBe('hello');
    ws.close();
    const bad = new WebSocket(`ws://127.0.0.1:${h.httpPort}/api/stream?token=wrong-token-0123456789`);
    const refused = await new Promise<number>((resolve) => {
      bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.once('error', () => resolve(-1));
    });
    expect(refused).toBe(401);

    expect(h.output()).not.toContain(token);
    expect(h.output()).not.toContain('query-secret-xyz');
  });
});

describe('agents disable / enable / reset-password while the hub runs', () => {
  it('cuts a live box off at once, refuses it until enabled, and re-keys it', async () => {
    const dir = dataDir();
    const token = 'agents-token-0123456789abcdef';
    const h = await hub(['--data-dir', dir], { CLASSROOM_HUB_ADMIN_TOKEN: token });
    const creds = await hubCli<{ agent: string; password: string }>([
      'agents',
      'add',
      '--agent',
      'box-1',
      '--room',
      'r101',
      '--data-dir',
      dir,
    ]);
    const live = await connectBox(h.mqttPort, 'box-1', creds.password);
    const closed = new Promise<void>((resolve) => live.once('close', () => resolve()));
    expect(await hubCli(['agents', 'disable', '--agent', 'box-1', '--data-dir', dir])).toEqual({
      agent: 'box-1',
      disabled: true,
    });
    await closed;
    const refused = await boxRefused(h.mqttPort, 'box-1', creds.password);
    expect(refused.code).toBe(5);
    // The hub's stdout arrives through a pipe, possibly after the CONNACK.
    await waitFor('the refusal logged', () => h.output().includes('connection refused: account disabled'));
    expect(await hubCli(['agents', 'enable', '--agent', 'box-1', '--data-dir', dir])).toEqual({
      agent: 'box-1',
      disabled: false,
    });
    const again = await connectBox(h.mqttPort, 'box-1', creds.password);

    const closedAgain = new Promise<void>((resolve) => again.once('close', () => resolve()));
    const reset = await hubCli<{ agent: string; username: string; password: string }>([
      'agents',
      'reset-password',
      '--agent',
      'box-1',
      '--data-dir',
      dir,
    ]);
    expect(reset.agent).toBe('box-1');
    expect(reset.password).not.toBe(creds.password);
    await closedAgain;
    expect((await boxRefused(h.mqttPort, 'box-1', creds.password)).code).toBe(4);
    (await connectBox(h.mqttPort, 'box-1', reset.password)).end(true);

    const unknown = await hubCliFails(['agents', 'disable', '--agent', 'no-such-box', '--data-dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no agent "no-such-box"');

    const metrics = await curl([`http://127.0.0.1:${h.httpPort}/metrics`]);
    expect(metrics.body).toMatch(/classroom_hub_auth_refused_total\{reason="disabled"\} 1/);
    expect(h.output()).not.toContain(reset.password);
  });

  it('does the same over the API for an admin', async () => {
    const dir = dataDir();
    const token = 'agents-api-token-0123456789abc';
    const h = await hub(['--data-dir', dir], { CLASSROOM_HUB_ADMIN_TOKEN: token });
    const add = await curl([
      '-X',
      'POST',
      '-H',
      `Authorization: Bearer ${token}`,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ agent: 'box-2', room: 'r102' }),
      `http://127.0.0.1:${h.httpPort}/api/agents`,
    ]);
    const creds = JSON.parse(add.body) as { password: string };
    const live = await connectBox(h.mqttPort, 'box-2', creds.password);
    const closed = new Promise<void>((resolve) => live.once('close', () => resolve()));
    const post = (path: string, t: string | null = token) =>
      curl([
        '-X',
        'POST',
        ...(t ? ['-H', `Authorization: Bearer ${t}`] : []),
        `http://127.0.0.1:${h.httpPort}${path}`,
      ]);
    expect((await post('/api/agents/box-2/disable', null)).status).toBe(401);
    const dis = await post('/api/agents/box-2/disable');
    expect(dis.status).toBe(200);
    expect(JSON.parse(dis.body)).toEqual({ agent: 'box-2', disabled: true });
    await closed;
    expect((await boxRefused(h.mqttPort, 'box-2', creds.password)).code).toBe(5);
    expect((await post('/api/agents/box-2/enable')).status).toBe(200);
    const reset = await post('/api/agents/box-2/reset-password');
    expect(reset.status).toBe(200);
    const fresh = JSON.parse(reset.body) as { password: string };
    expect((await boxRefused(h.mqttPort, 'box-2', creds.password)).code).toBe(4);
    (await connectBox(h.mqttPort, 'box-2', fresh.password)).end(true);
    expect((await post('/api/agents/nobody/disable')).status).toBe(404);
    // The contract grows in the generated OpenAPI document too.
    const doc = JSON.parse((await curl([`http://127.0.0.1:${h.httpPort}/api/openapi.json`])).body) as {
      paths: Record<string, unknown>;
    };
    for (const path of ['disable', 'enable', 'reset-password'])
      expect(Object.keys(doc.paths)).toContain(`/api/agents/{id}/${path}`);
  });
});

describe('dashboard CSP', () => {
  it('lets WebSockets go to the dashboard’s own host only', async () => {
    const dir = dataDir();
    const h = await hub(['--data-dir', dir]);
    const r = await curl([`http://127.0.0.1:${h.httpPort}/`]);
    expect(r.status).toBe(200);
    const csp = /^content-security-policy: (.*)$/im.exec(r.headers)?.[1]?.trim() ?? '';
    const connect = csp
      .split(';')
      .map((d) => d.trim())
      .find((d) => d.startsWith('connect-src'));
    expect(connect).toBe(`connect-src 'self' ws://127.0.0.1:${h.httpPort} wss://127.0.0.1:${h.httpPort}`);
    // A Host header that is not a plain host[:port] is never copied into the policy.
    const odd = await curl(['-H', 'Host: evil.example; script-src *', `http://127.0.0.1:${h.httpPort}/`]);
    const oddCsp = /^content-security-policy: (.*)$/im.exec(odd.headers)?.[1] ?? '';
    expect(oddCsp).toContain("connect-src 'self';");
    expect(oddCsp).not.toContain('evil.example');
  });
});

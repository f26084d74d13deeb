// Over HTTPS the session cookie is also Secure (docs/hub-staff.md, "Sessions"), and it opens the API
// and the WebSocket stream over TLS. Real hub process, certificates made by openssl at test time.
import { mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tempDir } from './core-helpers.js';
import { BIN, run, spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

function https(
  port: number,
  ca: Buffer,
  method: string,
  path: string,
  opts: { body?: unknown; cookie?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca,
        headers: {
          ...(opts.cookie ? { cookie: opts.cookie } : {}),
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

describe('staff session over HTTPS', () => {
  let t: { dir: string; remove(): void };
  let hub: TlsHub;
  let ca: Buffer;
  let password = '';

  beforeAll(async () => {
    t = tempDir('hub-staff-tls-');
    const pki = join(t.dir, 'pki');
    mkdirSync(pki);
    const campus = await TestCa.create(pki, 'campus');
    const server = await campus.issue('hub', 'IP:127.0.0.1');
    ca = readFileSync(campus.cert);
    const data = join(t.dir, 'data');
    const out = await run(process.execPath, [
      BIN,
      'users',
      'add',
      '--name',
      'av.zhao',
      '--role',
      'viewer',
      '--data-dir',
      data,
    ]);
    password = (JSON.parse(out.stdout) as { password: string }).password;
    hub = await spawnTlsHub(data, ['--tls-cert', server.cert, '--tls-key', server.key]);
  }, 60_000);

  afterAll(async () => {
    await hub?.kill9();
    t?.remove();
  });

  it('sets a Secure, HttpOnly, SameSite=Strict cookie that opens the API and the stream', async () => {
    const port = hub.listening.httpPort;
    const login = await https(port, ca, 'POST', '/api/session', { body: { name: 'av.zhao', password } });
    expect(login.status).toBe(200);
    const set = String(login.headers['set-cookie'] ?? '');
    expect(set).toMatch(/; Secure/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    const cookie = /classroom_session=[^;]+/.exec(set)?.[0] ?? '';
    expect((await https(port, ca, 'GET', '/api/rooms', { cookie })).status).toBe(200);
    expect((await https(port, ca, 'GET', '/api/users', { cookie })).status).toBe(403);
    const hello = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/api/stream`, { ca, headers: { cookie } });
      ws.once('message', (m) => {
        resolve(String(m));
        ws.close();
      });
      ws.once('error', reject);
    });
    expect(JSON.parse(hello)).toMatchObject({ type: 'hello' });
  });
});

// Webhook targets (docs/hub-people.md "Webhooks", SECURITY.md): no loopback, link-local, private or
// multicast target without --webhook-allow-private, checked at registration and again against the address
// each delivery connects to; redirects are not followed; credentials in a target URL are never logged.
// Real hub process and curl for the API, real loopback HTTP receivers for deliveries.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { topics } from '@classroom/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/context.js';
import { type DeliveryOutcome, WebhookDeliverer } from '../src/webhooks/deliver.js';
import { displayUrl, refusedAddress } from '../src/webhooks/target.js';
import { birth, tempDir, waitFor } from './core-helpers.js';
import { connectBox, curl, type HubProcess, hubCli, serveHub } from './security-helpers.js';

const TOKEN = 'webhook-test-token-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hit {
  url: string;
  headers: IncomingHttpHeaders;
}

async function receiver(
  answer: (res: import('node:http').ServerResponse) => void,
): Promise<{ port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers });
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, hits };
}

async function hub(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ h: HubProcess; dir: string }> {
  const t = tempDir('hub-webhooks-');
  cleanups.push(() => t.remove());
  const h = await serveHub(['--data-dir', t.dir, ...args], { CLASSROOM_HUB_ADMIN_TOKEN: TOKEN, ...env });
  cleanups.push(() => h.stop());
  return { h, dir: t.dir };
}

function register(port: number, url: string) {
  return curl([
    '-X',
    'POST',
    '-H',
    `Authorization: Bearer ${TOKEN}`,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({ url }),
    `http://127.0.0.1:${port}/api/webhooks`,
  ]);
}

const log = pino({ level: 'silent' });

describe('webhook target addresses', () => {
  it('classifies loopback, link-local, private, multicast and reserved addresses as refused', () => {
    for (const a of [
      '127.0.0.1',
      '127.8.9.10',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '224.0.0.251',
      '239.255.255.250',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect(refusedAddress(a), a).toMatch(/loopback, link-local, private or multicast/);
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])
      expect(refusedAddress(a), a).toBeNull();
  });

  it('shows a target URL without its password or query string', () => {
    expect(displayUrl('https://user:pa55@hooks.example/x?key=abc')).toBe(
      'https://user:***@hooks.example/x?…',
    );
    expect(displayUrl('http://hooks.example/x')).toBe('http://hooks.example/x');
  });
});

describe('registration (real hub process, curl)', () => {
  it('refuses private targets with 400 by default, never logging their credentials', async () => {
    const { h } = await hub([]);
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://localhost:9/hook',
      'http://[::1]:9/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.1/hook',
      'http://hookuser:hookpass@127.0.0.1:9/hook?key=querykey',
    ]) {
      const r = await register(h.httpPort, url);
      expect(r.status, url).toBe(400);
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('target_refused');
      expect(body.error.message).toMatch(/--webhook-allow-private/);
    }
    const list = await curl([
      '-H',
      `Authorization: Bearer ${TOKEN}`,
      `http://127.0.0.1:${h.httpPort}/api/webhooks`,
    ]);
    expect(JSON.parse(list.body)).toEqual({ webhooks: [] });
    const metrics = await curl([`http://127.0.0.1:${h.httpPort}/metrics`]);
    expect(metrics.body).toMatch(/classroom_hub_webhook_targets_refused_total 6/);
    await waitFor('the refusal logged', () => h.output().includes('hookuser:***@127.0.0.1:9/hook?…'));
    expect(h.output()).not.toContain('hookpass');
    expect(h.output()).not.toContain('querykey');
  });

  it('with --webhook-allow-private: accepts a loopback target, sends credentials as Basic auth, follows no redirect', async () => {
    const elsewhere = await receiver((res) => res.writeHead(204).end());
    const hook = await receiver((res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
    );
    const { h, dir } = await hub(['--webhook-allow-private'], {
      CLASSROOM_HUB_ALARM_RAISE_S: '0',
    });
    const url = `http://hookuser:hookpass@127.0.0.1:${hook.port}/hook?key=querykey`;
    const r = await register(h.httpPort, url);
    expect(r.status).toBe(201);
    const list = await curl([
      '-H',
      `Authorization: Bearer ${TOKEN}`,
      `http://127.0.0.1:${h.httpPort}/api/webhooks`,
    ]);
    expect(list.body).not.toContain('hookpass');

    // An alarm transition to deliver: a box reports its camera down.
    const creds = await hubCli<{ password: string }>([
      'agents',
      'add',
      '--agent',
      'box-w',
      '--room',
      'W1',
      '--data-dir',
      dir,
    ]);
    const box = await connectBox(h.mqttPort, 'box-w', creds.password);
    cleanups.push(() => void box.end(true));
    await box.publishAsync(topics.birth('box-w'), JSON.stringify(birth('box-w', 'W1')), { qos: 1 });
    await box.publishAsync(
      topics.records('box-w'),
      JSON.stringify({
        v: 1,
        session: 1,
        records: [{ seq: 1, kind: 'event', source: 'cam', ts: Date.now(), type: 'source.down', detail: {} }],
      }),
      { qos: 1 },
    );
    await waitFor('a delivery attempt', () => hook.hits.length >= 1, 30_000);
    const first = hook.hits[0];
    expect(first?.url).toBe('/hook?key=querykey');
    expect(first?.headers.authorization).toBe(`Basic ${Buffer.from('hookuser:hookpass').toString('base64')}`);
    await waitFor(
      'the refused redirect logged',
      () => h.output().includes('redirects are not followed'),
      30_000,
    );
    expect(elsewhere.hits).toHaveLength(0);
    expect(h.output()).not.toContain('hookpass');
  });
});

describe('delivery re-checks the address it connects to', () => {
  it('refuses a host name that resolves to loopback at delivery time, without retrying', async () => {
    const hook = await receiver((res) => res.writeHead(204).end());
    const outcomes: DeliveryOutcome[] = [];
    const d = new WebhookDeliverer(
      systemClock,
      log,
      { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 5000 },
      (_t, o) => outcomes.push(o),
    );
    // As if the name had resolved to a public address at registration and to loopback now (rebinding).
    d.send(
      { id: 'w', url: `http://localhost:${hook.port}/`, secret: 'r'.repeat(16) },
      'alarm.transition',
      {},
    );
    await waitFor('the refusal', () => outcomes.length > 0);
    expect(outcomes).toEqual(['refused']);
    expect(hook.hits).toHaveLength(0);
    await d.stop();

    // The same receiver with the flag: delivered.
    const allowed: DeliveryOutcome[] = [];
    const d2 = new WebhookDeliverer(
      systemClock,
      log,
      { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 5000 },
      (_t, o) => allowed.push(o),
      null,
      true,
    );
    d2.send(
      { id: 'w', url: `http://localhost:${hook.port}/`, secret: 'r'.repeat(16) },
      'alarm.transition',
      {},
    );
    await waitFor('the delivery', () => allowed.length > 0);
    expect(allowed).toEqual(['ok']);
    expect(hook.hits).toHaveLength(1);
    await d2.stop();
  });

  it('does not follow a 302', async () => {
    const elsewhere = await receiver((res) => res.writeHead(204).end());
    const hook = await receiver((res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/` }).end(),
    );
    const outcomes: DeliveryOutcome[] = [];
    const d = new WebhookDeliverer(
      systemClock,
      log,
      { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 5000 },
      (_t, o) => outcomes.push(o),
      null,
      true,
    );
    d.send(
      { id: 'w', url: `http://127.0.0.1:${hook.port}/`, secret: 'r'.repeat(16) },
      'alarm.transition',
      {},
    );
    await waitFor('giving up', () => outcomes.includes('failed'));
    expect(outcomes).toEqual(['retry', 'failed']);
    expect(hook.hits).toHaveLength(2);
    expect(elsewhere.hits).toHaveLength(0);
    await d.stop();
  });
});

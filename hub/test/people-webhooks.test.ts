import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/context.js';
import { backoffDelay, type DeliveryOutcome, sign, WebhookDeliverer } from '../src/webhooks/deliver.js';
import { waitFor } from './people-hub.js';

const log = pino({ level: 'silent' });

describe('webhook signing and backoff', () => {
  it('signs the exact body with HMAC-SHA256', () => {
    const body = '{"a":1}';
    expect(sign('s3cret', body)).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(sign('s3cret', body)).not.toBe(sign('other', body));
  });

  it('doubles the delay per attempt, with jitter, up to the cap', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 10_000, timeoutMs: 1000 };
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(4000);
    expect(backoffDelay(policy, 8, () => 0.5)).toBe(10_000);
    expect(backoffDelay(policy, 2, () => 0)).toBe(1600);
    expect(backoffDelay(policy, 2, () => 0.999_999)).toBe(2400);
  });
});

describe('webhook delivery against a local receiver', () => {
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = null;
  });

  async function receiver(
    status: () => number,
  ): Promise<{ url: string; hits: Array<{ attempt: string; delivery: string }> }> {
    const hits: Array<{ attempt: string; delivery: string }> = [];
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push({
          attempt: String(req.headers['x-classroom-attempt']),
          delivery: String(req.headers['x-classroom-delivery']),
        });
        res.writeHead(status()).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`, hits };
  }

  it('retries a failing receiver and gives up after maxAttempts, keeping one delivery id', async () => {
    const { url, hits } = await receiver(() => 500);
    const outcomes: DeliveryOutcome[] = [];
    const d = new WebhookDeliverer(
      systemClock,
      log,
      { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000 },
      (_t, o) => outcomes.push(o),
      null,
      true, // the receiver is on loopback: allowed only as with --webhook-allow-private
    );
    d.send({ id: 'w', url, secret: 'x'.repeat(16) }, 'alarm.transition', { hello: 1 });
    await waitFor('give up', () => outcomes.includes('failed'));
    expect(outcomes).toEqual(['retry', 'retry', 'retry', 'failed']);
    expect(hits.map((h) => h.attempt)).toEqual(['1', '2', '3', '4']);
    expect(new Set(hits.map((h) => h.delivery)).size).toBe(1);
    expect(d.idle()).toBe(true);
    await d.stop();
  });

  it('stops retrying when stopped', async () => {
    const { url, hits } = await receiver(() => 503);
    const d = new WebhookDeliverer(
      systemClock,
      log,
      { maxAttempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000, timeoutMs: 2000 },
      () => undefined,
      null,
      true,
    );
    d.send({ id: 'w', url, secret: 'y'.repeat(16) }, 'alarm.transition', {});
    await waitFor('first attempt', () => hits.length === 1);
    await waitFor('retry scheduled', () => !d.idle());
    await d.stop();
    expect(d.idle()).toBe(true);
    expect(hits).toHaveLength(1);
  });
});

describe('webhook deliveries survive a hub restart', () => {
  it('keeps a failing delivery in the store and retries it on the next start', async () => {
    const { makeCtx } = await import('./people-helpers.js');
    const { PeopleBus } = await import('../src/alarms/events.js');
    const { WebhooksModule } = await import('../src/webhooks/module.js');
    const t = await makeCtx();
    // The receiver is on loopback, which only --webhook-allow-private permits.
    t.ctx.config.webhookAllowPrivate = true;
    let status = 503;
    const hits: Array<{ attempt: string; delivery: string; body: string }> = [];
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        hits.push({
          attempt: String(req.headers['x-classroom-attempt']),
          delivery: String(req.headers['x-classroom-delivery']),
          body,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const envTarget = {
      url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
      secret: 'z'.repeat(16),
    };
    try {
      const bus1 = new PeopleBus(t.ctx.log);
      const first = new WebhooksModule(t.ctx, bus1, {
        envTarget,
        retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, timeoutMs: 2000 },
      });
      await first.start();
      bus1.emit('alarm.transition', {
        alarm: { id: 'al-1' } as never,
        from: null,
        to: 'active',
        ts: Date.now(),
        who: null,
        note: null,
      });
      await waitFor('first attempt', () => hits.length === 1);
      await waitFor('journal updated', async () => {
        const row = await t.db.get<{ attempts: number }>('SELECT attempts FROM webhook_outbox');
        return row?.attempts === 1;
      });
      await first.stop();

      status = 204;
      const second = new WebhooksModule(t.ctx, new PeopleBus(t.ctx.log), {
        envTarget,
        retry: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 10, timeoutMs: 2000 },
      });
      await second.start();
      await waitFor('redelivery after restart', () => hits.length === 2);
      expect(hits[1]).toMatchObject({ attempt: '2', delivery: hits[0]!.delivery, body: hits[0]!.body });
      await waitFor(
        'journal emptied',
        async () => (await t.db.all('SELECT id FROM webhook_outbox')).length === 0,
      );
      await second.stop();
    } finally {
      await new Promise((r) => srv.close(r));
      await t.close();
    }
  });
});

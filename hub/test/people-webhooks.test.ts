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
    );
    d.send({ id: 'w', url, secret: 'y'.repeat(16) }, 'alarm.transition', {});
    await waitFor('first attempt', () => hits.length === 1);
    await waitFor('retry scheduled', () => !d.idle());
    await d.stop();
    expect(d.idle()).toBe(true);
    expect(hits).toHaveLength(1);
  });
});

// Webhook delivery: POST JSON, signed with HMAC-SHA256 over the raw body, retried with exponential
// backoff (docs/hub-people.md "Webhooks"). Retry timers use the injected clock so backoff is testable with fake timers.
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../context.js';
import { displayUrl, postJson, WebhookTargetError } from './target.js';

export const SIGNATURE_HEADER = 'x-classroom-signature';
export const EVENT_HEADER = 'x-classroom-event';
export const DELIVERY_HEADER = 'x-classroom-delivery';

export interface WebhookTarget {
  id: string;
  url: string;
  secret: string;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  timeoutMs: 10_000,
};

/** `refused`: the target resolved to an address the hub may not deliver to (webhooks/target.ts). */
export type DeliveryOutcome = 'ok' | 'retry' | 'failed' | 'refused';

/** A delivery not yet done, as kept in the store so that retries survive a hub restart. */
export interface PendingDelivery {
  id: string;
  targetId: string;
  event: string;
  body: string;
  /** Attempts made so far. */
  attempts: number;
  nextAt: number;
}

export interface DeliveryJournal {
  add(d: PendingDelivery): Promise<void>;
  update(id: string, attempts: number, nextAt: number): Promise<void>;
  remove(id: string): Promise<void>;
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body); receivers recompute it over the exact bytes. */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Delay before attempt n+1 (n ≥ 1): base·2^(n-1), capped, with ±20 % jitter so receivers are not stampeded. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

export class WebhookDeliverer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  private stopped = false;
  /** Journal writes are serialised so an add never lands after the remove of the same delivery. */
  private journalChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly policy: RetryPolicy,
    private readonly onOutcome: (target: WebhookTarget, outcome: DeliveryOutcome) => void,
    private readonly journal: DeliveryJournal | null = null,
    /** Deliver to loopback, link-local, private and multicast addresses (--webhook-allow-private). */
    private readonly allowPrivate = false,
  ) {}

  send(target: WebhookTarget, event: string, payload: unknown): void {
    const body = JSON.stringify(payload);
    const id = randomUUID();
    this.record((j) =>
      j.add({ id, targetId: target.id, event, body, attempts: 0, nextAt: this.clock.now() }),
    );
    this.attempt(target, event, body, id, 1);
  }

  /** Picks up a delivery left pending by a previous run; the hub was down, so it is retried at once. */
  resume(target: WebhookTarget, d: PendingDelivery): void {
    this.attempt(target, d.event, d.body, d.id, d.attempts + 1);
  }

  private record(op: (j: DeliveryJournal) => Promise<void>): void {
    const j = this.journal;
    if (!j) return;
    this.journalChain = this.journalChain
      .then(() => op(j))
      .catch((err: unknown) => this.log.error({ err }, 'webhook journal write failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
    await this.journalChain;
  }

  /** Resolves when no delivery is in flight or waiting for a retry. */
  idle(): boolean {
    return this.timers.size === 0 && this.inflight.size === 0;
  }

  private attempt(target: WebhookTarget, event: string, body: string, delivery: string, n: number): void {
    if (this.stopped) return;
    const p = this.post(target, event, body, delivery, n).then((error) => {
      if (error === null) {
        this.record((j) => j.remove(delivery));
        this.onOutcome(target, 'ok');
        return;
      }
      if (this.stopped) {
        // Left in the journal: the next start retries it.
        this.record((j) => j.update(delivery, n, this.clock.now()));
        return;
      }
      const refused = error.startsWith(REFUSED_PREFIX);
      if (n >= this.policy.maxAttempts || refused) {
        this.record((j) => j.remove(delivery));
        this.onOutcome(target, refused ? 'refused' : 'failed');
        this.log.error(
          { webhook: target.id, url: displayUrl(target.url), delivery, attempts: n, error },
          'webhook gave up',
        );
        return;
      }
      this.onOutcome(target, 'retry');
      const delay = backoffDelay(this.policy, n);
      this.record((j) => j.update(delivery, n, this.clock.now() + delay));
      this.log.warn({ webhook: target.id, delivery, attempt: n, delay, error }, 'webhook failed, will retry');
      const t = this.clock.setTimeout(() => {
        this.timers.delete(t);
        this.attempt(target, event, body, delivery, n + 1);
      }, delay);
      this.timers.add(t);
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Returns null on a 2xx answer, else why it failed. */
  private async post(
    target: WebhookTarget,
    event: string,
    body: string,
    delivery: string,
    attempt: number,
  ): Promise<string | null> {
    try {
      const status = await postJson(target.url, body, {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'classroom-hub',
          [SIGNATURE_HEADER]: sign(target.secret, body),
          [EVENT_HEADER]: event,
          [DELIVERY_HEADER]: delivery,
          'x-classroom-attempt': String(attempt),
        },
        timeoutMs: this.policy.timeoutMs,
        allowPrivate: this.allowPrivate,
      });
      if (status >= 200 && status < 300) return null;
      // docs/hub-people.md "Webhooks": a redirect is not followed; the receiver must answer itself.
      return status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
    } catch (err) {
      if (err instanceof WebhookTargetError) return `${REFUSED_PREFIX}${err.message}`;
      return err instanceof Error ? err.message : String(err);
    }
  }
}

const REFUSED_PREFIX = 'target refused: ';

// Webhooks feature: targets kept in the store (plus one from the environment), alarm transitions
// delivered to each (DESIGN.md "Alarms": webhooks fire on transitions; docs/hub-people.md "Webhooks").
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter } from 'prom-client';
import { z } from 'zod';
import type { PeopleBus } from '../alarms/events.js';
import { adminRoute, ErrorBody, sendError } from '../alarms/http.js';
import type { HubContext, HubModule } from '../context.js';
import {
  DEFAULT_RETRY,
  type DeliveryJournal,
  type RetryPolicy,
  WebhookDeliverer,
  type WebhookTarget,
} from './deliver.js';
import { checkTarget, displayUrl, WebhookTargetError } from './target.js';

const MIGRATION = `
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
  id TEXT PRIMARY KEY,
  target_id TEXT NOT NULL,
  event TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_at BIGINT NOT NULL
);`;

export interface WebhookOptions {
  /** A target configured outside the API (CLASSROOM_HUB_WEBHOOK_URL / _SECRET). */
  envTarget?: { url: string; secret: string } | undefined;
  retry?: RetryPolicy;
}

const HttpUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http or https URL' });

export class WebhooksModule implements HubModule {
  readonly name = 'webhooks';
  private deliverer: WebhookDeliverer | null = null;
  private targets: WebhookTarget[] = [];
  private off: (() => void) | null = null;
  private offClassEmpty: (() => void) | null = null;
  private counter: Counter<'outcome'> | null = null;
  private refusedCounter: Counter | null = null;

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
    private readonly opts: WebhookOptions = {},
  ) {}

  async start(): Promise<void> {
    const log = this.ctx.log.child({ module: 'webhooks' });
    await this.ctx.db.migrate('people-002-webhooks', MIGRATION);
    await this.reload();
    this.counter = new Counter({
      name: 'classroom_hub_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (ok, retry, failed, refused: a forbidden target address)',
      labelNames: ['outcome'],
      registers: [this.ctx.metrics],
    });
    this.refusedCounter = new Counter({
      name: 'classroom_hub_webhook_targets_refused_total',
      help: 'Webhook registrations refused: the target resolves to a loopback, link-local, private or multicast address',
      registers: [this.ctx.metrics],
    });
    const counter = this.counter;
    const db = this.ctx.db;
    const journal: DeliveryJournal = {
      add: async (d) => {
        await db.run(
          'INSERT INTO webhook_outbox (id, target_id, event, body, attempts, next_at) VALUES (?, ?, ?, ?, ?, ?)',
          [d.id, d.targetId, d.event, d.body, d.attempts, d.nextAt],
        );
      },
      update: async (id, attempts, nextAt) => {
        await db.run('UPDATE webhook_outbox SET attempts = ?, next_at = ? WHERE id = ?', [
          attempts,
          nextAt,
          id,
        ]);
      },
      remove: async (id) => {
        await db.run('DELETE FROM webhook_outbox WHERE id = ?', [id]);
      },
    };
    this.deliverer = new WebhookDeliverer(
      this.ctx.clock,
      log,
      this.opts.retry ?? DEFAULT_RETRY,
      (_t, outcome) => counter.inc({ outcome }),
      journal,
      this.ctx.config.webhookAllowPrivate === true,
    );
    await this.resumePending(log);
    this.off = this.people.on('alarm.transition', (t) => {
      const payload = {
        event: 'alarm.transition',
        ts: t.ts,
        from: t.from,
        to: t.to,
        who: t.who,
        note: t.note,
        alarm: t.alarm,
      };
      for (const target of this.targets) this.deliverer?.send(target, 'alarm.transition', payload);
    });
    // A report for the platform (docs/hub-people.md "Occupancy"), delivered like alarm transitions.
    this.offClassEmpty = this.people.on('class.empty', (e) => {
      const payload = { event: 'class.empty', ...e };
      for (const target of this.targets) this.deliverer?.send(target, 'class.empty', payload);
    });
  }

  async stop(): Promise<void> {
    this.off?.();
    this.offClassEmpty?.();
    await this.deliverer?.stop();
    this.ctx.metrics.removeSingleMetric('classroom_hub_webhook_deliveries_total');
    this.ctx.metrics.removeSingleMetric('classroom_hub_webhook_targets_refused_total');
  }

  private async resumePending(log: import('pino').Logger): Promise<void> {
    const rows = await this.ctx.db.all<{
      id: string;
      target_id: string;
      event: string;
      body: string;
      attempts: number | string;
      next_at: number | string;
    }>('SELECT * FROM webhook_outbox ORDER BY next_at');
    for (const r of rows) {
      const target = this.targets.find((t) => t.id === r.target_id);
      if (!target) {
        log.warn({ delivery: r.id, webhook: r.target_id }, 'dropping pending delivery of a removed webhook');
        await this.ctx.db.run('DELETE FROM webhook_outbox WHERE id = ?', [r.id]);
        continue;
      }
      this.deliverer?.resume(target, {
        id: r.id,
        targetId: r.target_id,
        event: r.event,
        body: r.body,
        attempts: Number(r.attempts),
        nextAt: Number(r.next_at),
      });
    }
    if (rows.length > 0) log.info({ pending: rows.length }, 'resumed pending webhook deliveries');
  }

  idle(): boolean {
    return this.deliverer?.idle() ?? true;
  }

  private async reload(): Promise<void> {
    const rows = await this.ctx.db.all<{ id: string; url: string; secret: string }>(
      'SELECT id, url, secret FROM webhooks ORDER BY created_at',
    );
    const env = this.opts.envTarget ? [{ id: 'env', ...this.opts.envTarget }] : [];
    this.targets = [...env, ...rows];
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    const View = z.object({ id: z.string(), url: z.string() });
    app.get(
      '/api/webhooks',
      {
        preHandler,
        schema: {
          security,
          summary: 'Webhook targets (secrets are not shown)',
          tags: ['webhooks'],
          response: { 200: z.object({ webhooks: z.array(View) }) },
        },
      },
      async () => ({ webhooks: this.targets.map((t) => ({ id: t.id, url: displayUrl(t.url) })) }),
    );
    app.post(
      '/api/webhooks',
      {
        preHandler,
        schema: {
          security,
          summary: 'Add a webhook target; the secret signs every delivery (x-classroom-signature)',
          tags: ['webhooks'],
          body: z.object({ url: HttpUrl, secret: z.string().min(16).max(256).optional() }),
          response: {
            201: z.object({ id: z.string(), url: z.string(), secret: z.string() }),
            400: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        try {
          await checkTarget(req.body.url, this.ctx.config.webhookAllowPrivate === true);
        } catch (err) {
          if (!(err instanceof WebhookTargetError)) throw err;
          this.refusedCounter?.inc();
          this.ctx.log.warn(
            { module: 'webhooks', url: displayUrl(req.body.url), reason: err.message },
            'webhook target refused',
          );
          return sendError(reply, 400, 'target_refused', err.message);
        }
        const id = randomUUID();
        const secret = req.body.secret ?? randomBytes(24).toString('base64url');
        await this.ctx.db.run('INSERT INTO webhooks (id, url, secret, created_at) VALUES (?, ?, ?, ?)', [
          id,
          req.body.url,
          secret,
          this.ctx.clock.now(),
        ]);
        await this.reload();
        return reply.code(201).send({ id, url: req.body.url, secret });
      },
    );
    app.delete(
      '/api/webhooks/:id',
      {
        preHandler,
        schema: {
          security,
          summary: 'Remove a webhook target',
          tags: ['webhooks'],
          params: z.object({ id: z.string().max(64) }),
          response: { 204: z.null(), 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const res = await this.ctx.db.run('DELETE FROM webhooks WHERE id = ?', [req.params.id]);
        if (res.changes === 0)
          return sendError(reply, 404, 'not_found', `webhook ${req.params.id} not found`);
        await this.reload();
        return reply.code(204).send(null);
      },
    );
  }
}

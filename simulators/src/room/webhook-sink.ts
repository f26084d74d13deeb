import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type HubTarget, hubSend } from './hub-client.js';

/** A `class.empty` report as the hub posts it (docs/hub-people.md "`class.empty` webhook"). */
export interface ClassEmptyReport {
  event: 'class.empty';
  room: string;
  period: { id: string; title: string; start: number; end: number };
  afterMinutes: number;
  countedMinutes: number;
  ts: number;
}

const MAX_BODY = 256 * 1024;

/**
 * A webhook receiver on 127.0.0.1 for the simulators: it checks each delivery's HMAC signature
 * (docs/hub-people.md "Webhooks") and keeps the `class.empty` reports, so a demo can show them and
 * a scenario can check them. Deliveries with a bad signature are answered 401 and counted.
 */
export class WebhookSink extends EventEmitter<{ 'class.empty': [ClassEmptyReport] }> {
  readonly secret = randomBytes(24).toString('hex');
  readonly classEmpty: ClassEmptyReport[] = [];
  badSignatures = 0;
  private server: Server | null = null;

  constructor(private readonly log: Logger) {
    super();
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (size > MAX_BODY || !this.signedByHub(body, req.headers['x-classroom-signature'])) {
          this.badSignatures++;
          res.writeHead(size > MAX_BODY ? 413 : 401).end();
          return;
        }
        res.writeHead(204).end();
        let msg: { event?: unknown };
        try {
          msg = JSON.parse(body.toString('utf8')) as { event?: unknown };
        } catch {
          return;
        }
        if (msg.event === 'class.empty') {
          const report = msg as ClassEmptyReport;
          this.classEmpty.push(report);
          this.log.info(
            { event: 'sim.class-empty', room: report.room, period: report.period },
            'class.empty received',
          );
          this.emit('class.empty', report);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  }

  /** Registers this sink with the hub (which must allow private webhook targets). */
  async register(hub: Pick<HubTarget, 'api' | 'adminToken'>, url: string): Promise<void> {
    await hubSend(hub, 'POST', '/api/webhooks', { url, secret: this.secret });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private signedByHub(body: Buffer, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
    const want = createHmac('sha256', this.secret).update(body).digest();
    const got = Buffer.from(header.slice(7), 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

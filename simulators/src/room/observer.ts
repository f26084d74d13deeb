import type { Logger } from 'pino';
import { type ApiAgent, type HubTarget, hubGet } from './hub-client.js';

/**
 * Watches one agent through the hub's API while a scenario runs and keeps what the hub showed: every
 * availability value, in order, and the highest session. The API has only the current state, so
 * the scenario's "lost, then online again" is observed live.
 */
export class AvailabilityObserver {
  readonly seen: string[] = [];
  maxSession = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly log: Logger,
    private readonly hub: Pick<HubTarget, 'api' | 'adminToken'>,
    private readonly agent: string,
    private readonly periodMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): string | undefined {
    return this.seen[this.seen.length - 1];
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const a = await hubGet<ApiAgent>(this.hub, `/api/agents/${this.agent}`);
      if (a.availability !== this.current()) {
        this.seen.push(a.availability);
        this.log.info({ agent: this.agent, availability: a.availability }, 'hub shows a new availability');
      }
      if (a.session !== null && a.session > this.maxSession) this.maxSession = a.session;
    } catch (err) {
      // 404 before the first birth is normal; anything else is worth a line.
      if (!String(err).includes('404'))
        this.log.warn({ err: String(err), agent: this.agent }, 'observer poll failed');
    } finally {
      this.busy = false;
    }
  }
}

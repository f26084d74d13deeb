// Applies, in the running hub, what CLI commands changed in the store (docs/hub.md "Secrets"): a rotated
// admin token, a disabled box, a reset box password. The hub polls the `account_changes` journal by id
// instead of waiting for a signal: it works the same for a CLI on the same machine, for SQLite and
// PostgreSQL, and for several hub instances on one database, and a missed poll is caught up by the next.
import type { Logger } from 'pino';
import type { HubBroker } from '../broker/types.js';
import type { Clock, Db, HubModule } from '../context.js';
import { type AdminToken, storedAdminToken } from './admin-token.js';

/** How often the journal is read; bounds how long an old token or a disabled box is still accepted. */
export const DEFAULT_SECURITY_POLL_MS = 1000;

export interface SecurityWatchDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  adminToken: AdminToken;
  broker: Pick<HubBroker, 'disconnectUser'>;
  pollMs?: number;
}

interface Change {
  id: number | string;
  username: string | null;
  action: string;
}

export class SecurityWatch implements HubModule {
  readonly name = 'security-watch';
  private lastId = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly d: SecurityWatchDeps) {}

  async start(): Promise<void> {
    const row = await this.d.db.get<{ id: number | string | null }>(
      'SELECT MAX(id) AS id FROM account_changes',
    );
    this.lastId = Number(row?.id ?? 0);
    await this.loadAdminToken(false);
    this.timer = this.d.clock.setInterval(() => void this.poll(), this.d.pollMs ?? DEFAULT_SECURITY_POLL_MS);
  }

  async stop(): Promise<void> {
    this.d.clock.clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /**
   * Reads the journal once; the API calls it to apply its own change at once. Polls are queued one
   * after another, so a row is never applied twice.
   */
  poll(): Promise<void> {
    this.polling = this.polling.then(() => this.pollOnce());
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    let rows: Change[];
    try {
      rows = await this.d.db.all<Change>(
        'SELECT id, username, action FROM account_changes WHERE id > ? ORDER BY id LIMIT 1000',
        [this.lastId],
      );
    } catch (err) {
      this.d.log.error({ err }, 'reading account changes failed; retrying at the next poll');
      return;
    }
    for (const r of rows) {
      this.lastId = Math.max(this.lastId, Number(r.id));
      if (r.action === 'admin-token.rotate') await this.loadAdminToken(true);
      else if (r.username && (r.action === 'agent.disable' || r.action === 'agent.reset-password')) {
        // A disabled box, or one whose password was reset, keeps no session opened with the old state.
        const n = this.d.broker.disconnectUser?.(r.username) ?? 0;
        this.d.log.warn(
          { agent: r.username, action: r.action, disconnected: n },
          r.action === 'agent.disable' ? 'agent disabled' : 'agent password reset',
        );
      }
    }
  }

  private async loadAdminToken(announce: boolean): Promise<void> {
    const stored = await storedAdminToken(this.d.db).catch((err: unknown) => {
      this.d.log.error({ err }, 'reading the rotated admin token failed');
      return null;
    });
    if (!stored) return;
    const changed = this.d.adminToken.setHash(stored.hash, stored.rotatedAt);
    if (changed || announce)
      this.d.log.warn(
        { rotatedAt: new Date(stored.rotatedAt).toISOString() },
        'admin token: using the one rotated in the store (classroom-hub admin-token rotate); the old one is refused',
      );
  }
}

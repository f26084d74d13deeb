// Whether the store takes writes (docs/hub.md "Full disk"). The group committer reports each commit's
// outcome here; while commits fail nothing is acked, so boxes keep their records, and /api/health
// answers 503 `{"status":"degraded","store":"disk full"}` until a commit succeeds again.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why commits fail, in the words /api/health uses. */
export type StoreProblem = 'disk full' | 'I/O error' | 'read-only' | 'database unreachable' | 'write failed';

export function classifyStoreError(err: unknown): StoreProblem {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = String(e.code ?? e.cause?.code ?? '');
  const msg = String(e.message ?? '');
  // SQLite SQLITE_FULL, PostgreSQL 53100 disk_full, or the OS itself.
  if (
    code === 'SQLITE_FULL' ||
    code === '53100' ||
    code === 'ENOSPC' ||
    /SQLITE_FULL|No space left/i.test(msg)
  )
    return 'disk full';
  if (code === 'SQLITE_READONLY' || code === '25006') return 'read-only';
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'EIO' || code === '58030')
    return 'I/O error';
  // Connection refused/reset, admin shutdown (57P01…), cannot connect now (57P03), pool timeout.
  if (
    /^(ECONN|ETIMEDOUT|EPIPE|57P0)/.test(code) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(msg)
  )
    return 'database unreachable';
  return 'write failed';
}

export class StoreHealth {
  private problem: StoreProblem | null = null;
  private since = 0;
  private readonly degraded: Gauge<string>;
  private readonly failures: Counter<'reason'>;

  constructor(
    registry: Registry,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.degraded = new Gauge({
      name: 'classroom_hub_store_degraded',
      help: '1 while commits to the store fail (nothing is acked then), else 0',
      registers: [registry],
    });
    this.degraded.set(0);
    this.failures = new Counter({
      name: 'classroom_hub_store_commit_failures_total',
      help: 'Group commits that failed, by reason (disk full, I/O error, read-only, database unreachable…)',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  commitFailed(err: unknown): void {
    const reason = classifyStoreError(err);
    this.failures.inc({ reason });
    if (this.problem !== reason) {
      this.log.error(
        { event: 'store.degraded', reason, err: (err as Error).message },
        'store refuses writes: records are not acked until it recovers',
      );
      this.problem = reason;
      this.since = this.now();
      this.degraded.set(1);
    }
  }

  commitSucceeded(): void {
    if (this.problem === null) return;
    this.log.info(
      { event: 'store.recovered', reason: this.problem, degradedMs: this.now() - this.since },
      'store takes writes again',
    );
    this.problem = null;
    this.degraded.set(0);
  }

  status(): { status: 'ok' | 'degraded'; store: string; since?: number } {
    return this.problem === null
      ? { status: 'ok', store: 'ok' }
      : { status: 'degraded', store: this.problem, since: this.since };
  }
}

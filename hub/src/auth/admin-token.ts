// The admin token of the HTTP API (DESIGN.md "Hub"): where it comes from (flag, env, file, data dir),
// how it is compared, and how `classroom-hub admin-token rotate` replaces it while the hub runs
// (docs/hub.md "Secrets"). A rotated token lives in the store as a SHA-256, so every hub instance on a
// shared PostgreSQL sees it; the running hub polls for the change (auth/watch.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import type { Db } from '../context.js';
import { PRIVATE_FILE_MODE } from '../store/permissions.js';

export const MIN_ADMIN_TOKEN_LENGTH = 16;

export function hashAdminToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token a running hub accepts; replaced in place when a rotation is seen. */
export class AdminToken {
  private hash: Buffer;
  rotatedAt: number | null = null;

  constructor(token: string) {
    this.hash = Buffer.from(hashAdminToken(token), 'hex');
  }

  /** Constant time: both sides are SHA-256 digests of equal length whatever was sent. */
  matches(given: string): boolean {
    return timingSafeEqual(Buffer.from(hashAdminToken(given), 'hex'), this.hash);
  }

  /** Returns true when the accepted token changed. */
  setHash(hex: string, rotatedAt: number): boolean {
    const next = Buffer.from(hex, 'hex');
    if (next.length !== 32) return false;
    const changed = !timingSafeEqual(next, this.hash);
    this.hash = next;
    this.rotatedAt = rotatedAt;
    return changed;
  }
}

/**
 * The live holder of each configured token, so that route guards built from the configured string
 * (`adminAuth(config.adminToken)`) follow a rotation without every module holding a reference.
 */
const live = new Map<string, AdminToken>();

export function registerLiveAdminToken(configured: string, holder: AdminToken): () => void {
  live.set(configured, holder);
  return () => {
    if (live.get(configured) === holder) live.delete(configured);
  };
}

export function liveAdminToken(configured: string): AdminToken | undefined {
  return live.get(configured);
}

/** `--admin-token-file F`: the token is the file's first line; the file should be 0600. */
export function readAdminTokenFile(file: string): { token: string; warning: string | null } {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode & 0o777;
  } catch (err) {
    throw new ConfigError(`--admin-token-file ${file}: ${(err as Error).message}`);
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `--admin-token-file ${file}: the token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`,
    );
  }
  const warning =
    (mode & 0o077) !== 0
      ? `admin token file ${file} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`
      : null;
  return { token, warning };
}

/** The rotated token in the store, if any. */
export async function storedAdminToken(db: Db): Promise<{ hash: string; rotatedAt: number } | null> {
  const row = await db.get<{ token_hash: string; rotated_at: number | string }>(
    'SELECT token_hash, rotated_at FROM admin_token WHERE id = 1',
  );
  return row ? { hash: row.token_hash, rotatedAt: Number(row.rotated_at) } : null;
}

/**
 * Issues a new admin token: its hash goes to the store with a journal entry the running hub polls,
 * and the token itself to `files` (0600), e.g. the data dir's admin-token file.
 */
export async function rotateAdminToken(db: Db, files: string[], now = Date.now()): Promise<string> {
  const token = generateAdminToken();
  const hash = hashAdminToken(token);
  await db.transaction(async () => {
    await db.run(
      `INSERT INTO admin_token (id, token_hash, rotated_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, rotated_at = excluded.rotated_at`,
      [hash, now],
    );
    await db.run('INSERT INTO account_changes (ts, username, action) VALUES (?, NULL, ?)', [
      now,
      'admin-token.rotate',
    ]);
  });
  for (const f of files) {
    writeFileSync(f, `${token}\n`, { mode: PRIVATE_FILE_MODE });
    chmodSync(f, PRIVATE_FILE_MODE);
  }
  return token;
}

// The data dir holds the database (box password hashes, records) and the admin token: only the hub's
// own user may read it (docs/hub.md "Secrets": dir 0700, files 0600). Existing installs are tightened
// at the next start, so an upgrade fixes a data dir created before this rule.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

function tighten(path: string, mode: number): void {
  try {
    if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
  } catch (err) {
    // Not ours to change (another owner, read-only mount): the operator's choice, not a reason to stop.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/** Creates the data dir as 0700, or tightens an existing one. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE);
}

/**
 * Creates `file` as 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database
 * file's mode), or tightens an existing file and its companions.
 */
export function ensurePrivateFile(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) tighten(f, PRIVATE_FILE_MODE);
}

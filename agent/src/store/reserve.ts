// Space held back on the box's disk for the outbox (docs/agent.md "Full disk"). A plain file of real
// blocks: when SQLite reports SQLITE_FULL the outbox deletes it, and the space it frees is what the
// drop-oldest transaction needs to write its WAL pages. It is written again once the disk has room.
import { closeSync, fsyncSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class DiskReserve {
  constructor(
    readonly file: string,
    readonly bytes: number,
  ) {}

  /** Whether the reserve file is there at its full size. */
  held(): boolean {
    try {
      return statSync(this.file).size >= this.bytes;
    } catch {
      return false;
    }
  }

  freeBytes(): number {
    const s = statfsSync(dirname(this.file));
    return s.bavail * s.bsize;
  }

  /**
   * Writes the reserve if it is missing and the disk has twice its size free (never the last of the
   * space). Returns whether it is held now.
   */
  ensure(): boolean {
    if (this.bytes <= 0 || this.held()) return true;
    if (this.freeBytes() < this.bytes * 2) return false;
    const chunk = Buffer.alloc(Math.min(this.bytes, 256 * 1024));
    let fd: number | null = null;
    try {
      fd = openSync(this.file, 'w', 0o600);
      for (let written = 0; written < this.bytes; ) {
        const n = Math.min(chunk.length, this.bytes - written);
        writeSync(fd, chunk, 0, n);
        written += n;
      }
      fsyncSync(fd);
      return true;
    } catch {
      // Space ran out while writing (someone else filled the disk): not held, try again later.
      if (fd !== null) closeSync(fd);
      fd = null;
      rmSync(this.file, { force: true });
      return false;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** Deletes the reserve; returns whether there was one to give back. */
  release(): boolean {
    const had = this.held();
    rmSync(this.file, { force: true });
    return had;
  }
}

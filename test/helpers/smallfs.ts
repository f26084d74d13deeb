// A small file system for full-disk tests: a tmpfs of a few MiB mounted on a temp dir (CI runs as root).
// `fill()` takes all but a few KiB with a filler file, `release()` gives the space back, and `unmount()`
// always runs in afterAll, even after a failure, lazily if something still holds a file open.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallFs {
  /** The mount point. */
  dir: string;
  /** Free bytes now. */
  freeBytes(): number;
  /** Writes a filler file until at most `leaveBytes` are free (the file system refuses the rest). */
  fill(leaveBytes?: number): void;
  /** Deletes the filler file: the space is back. */
  release(): void;
  unmount(): void;
}

const mounted = new Set<string>();

export function canMount(): boolean {
  return process.getuid?.() === 0;
}

export function mountSmallFs(sizeMiB = 8, prefix = 'smallfs-'): SmallFs {
  if (!canMount()) throw new Error('full-disk tests mount a tmpfs and need root (CI runs as root)');
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir]);
  mounted.add(dir);
  const filler = join(dir, '.filler');
  const freeBytes = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    freeBytes,
    fill(leaveBytes = 0) {
      const fd = openSync(filler, 'a');
      try {
        const chunk = Buffer.alloc(64 * 1024, 0xab);
        for (;;) {
          const free = freeBytes();
          if (free <= leaveBytes) break;
          const n = Math.min(chunk.length, free - leaveBytes);
          try {
            writeSync(fd, chunk, 0, n);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    release() {
      rmSync(filler, { force: true });
    },
    unmount() {
      if (!mounted.has(dir)) return;
      mounted.delete(dir);
      try {
        execFileSync('umount', [dir]);
      } catch {
        // Something still has a file open (a process that crashed the test): detach it anyway.
        execFileSync('umount', ['-l', dir]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Unmounts whatever a test file left mounted (call from afterAll as a last resort). */
export function unmountAll(): void {
  for (const dir of [...mounted]) {
    mounted.delete(dir);
    try {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

// A small filesystem to fill up: a tmpfs of a few MiB mounted on a temp dir (needs root, as CI runs;
// the full-disk cases fail clearly rather than skip without it), filled by one filler file until the
// kernel says ENOSPC, and emptied again by removing it.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the filesystem is full; returns the bytes written. */
  fill(): number;
  /** Removes the filler: the space comes back. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(prefix: string, sizeMiB: number): Tmpfs {
  if (process.getuid?.() !== 0) {
    throw new Error('the full-disk chaos cases mount a tmpfs and must run as root (as CI does)');
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir]);
  const filler = join(dir, 'filler.bin');
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0xa5);
      let written = 0;
      try {
        for (;;) {
          try {
            written += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            // What is left is smaller than a chunk: fill it in smaller writes.
            for (const size of [4096, 512, 1]) {
              try {
                for (;;) written += writeSync(fd, chunk.subarray(0, size));
              } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
              }
            }
            return written;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

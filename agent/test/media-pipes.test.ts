import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PipeBatcher } from '../src/media/run.js';
import { waitFor } from './helpers/broker.js';

/** A child that writes a numbered line every 5 ms, `n` lines in all, then exits (as ffmpeg logs). */
function talker(n: number) {
  const script = `let i = 0; const t = setInterval(() => { process.stdout.write('line' + i + '\\n'); if (++i === ${n}) clearInterval(t); }, 5);`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('pipe batcher (docs/agent-media.md "Cost": pipes read in batches)', () => {
  it('reads the pipes of several children in batches, loses nothing, and lets go of them when they end', async () => {
    const batcher = new PipeBatcher(300);
    const kids = [talker(200), talker(200), talker(200)];
    const got = kids.map(() => ({ text: '', chunks: 0, ended: false }));
    const t0 = Date.now();
    kids.forEach((k, i) => {
      const s = k.stdout as Readable;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        got[i]!.text += d;
        got[i]!.chunks++;
      });
      s.on('end', () => {
        got[i]!.ended = true;
      });
      batcher.add(s);
    });
    expect(batcher.size()).toBe(3);
    await waitFor(() => got.every((g) => g.ended), 'every child pipe read to its end', 30_000);
    const elapsedMs = Date.now() - t0;
    const expected = Array.from({ length: 200 }, (_, i) => `line${i}\n`).join('');
    for (const g of got) {
      expect(g.text).toBe(expected);
      // Unbatched, 200 lines 5 ms apart arrive as ~200 reads. Batched, at most a read or two per
      // 300 ms tick (however long the load made the run take), plus the first read.
      expect(g.chunks).toBeLessThanOrEqual(2 * Math.ceil(elapsedMs / 300) + 2);
    }
    await waitFor(() => batcher.size() === 0, 'closed pipes leave the batcher', 10_000);
  });
});

import { spawn } from 'node:child_process';
import { inputSpec } from '../ffmpeg/input.js';
import { PpmSplitter } from '../media/ppm.js';
import type { SourceConfig } from '../media/types.js';
import { COUNT_FILTER } from './scales.js';

/**
 * One picture of a source now, as the agent's monitor hands it to the counter (a PPM through the
 * same COUNT_FILTER), so that occupancy-check counts what the agent counts. Only keyframes are
 * decoded, so a stream joined mid-GOP gives a clean picture, not a grey smear. A source that
 * admits one reader (a UDP port, a device) cannot be read while the agent runs (docs/occupancy.md).
 */
export function grabFrame(ffmpeg: string, source: SourceConfig, timeoutS = 20): Promise<Buffer> {
  const spec = inputSpec(source.input, { timeoutS: Math.min(10, timeoutS), analyzeS: 4 });
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-skip_frame', 'nokey', ...spec.args];
  args.push('-map', '0:v:0', '-frames:v', '1', '-vf', COUNT_FILTER, '-c:v', 'ppm');
  args.push('-f', 'image2pipe', 'pipe:1');
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let frame: Buffer | null = null;
    let err = '';
    const split = new PpmSplitter((img) => {
      frame ??= img;
    });
    child.stdout.on('data', (c: Buffer) => split.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-500);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ffmpeg: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (frame) resolve(frame);
      else
        reject(
          new Error(
            `no frame from ${source.id} (ffmpeg ${signal ? `killed after ${timeoutS} s` : `exit ${code}`}${err ? `: ${err.trim().split('\n').pop()}` : ''})`,
          ),
        );
    });
  });
}

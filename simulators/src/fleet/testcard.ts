// The picture a protocol-level fleet agent answers `thumbnail` with: one synthetic 320 px test card
// per fleet, made once with ffmpeg, so patrol walls can be tested with many rooms without media.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';

const run = promisify(execFile);

let card: Promise<Buffer> | null = null;

/** ffmpeg's SMPTE bars at 320×180 as one JPEG; rejects (with ffmpeg's reason) when ffmpeg is missing. */
export function testCard(): Promise<Buffer> {
  card ??= (async () => {
    const ffmpeg = locateFfmpeg().ffmpeg.path;
    const { stdout } = await run(
      ffmpeg,
      ['-v', 'error', '-f', 'lavfi', '-i', 'smptebars=size=320x180', '-frames:v', '1', '-f', 'mjpeg', '-'],
      { encoding: 'buffer', maxBuffer: 1024 * 1024 },
    );
    return stdout as unknown as Buffer;
  })();
  card.catch(() => {
    card = null;
  });
  return card;
}

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM helper shared with bench/ (no type declarations)
import { writeComposite } from '../../bench/lib/occupancy-composite.mjs';
import { COUNT_WIDTH } from '../src/occupancy/scales.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-agent.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'occupancy-check-'));
const config = join(dir, 'agent.json');
let truth = 0;

async function check(args: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
  try {
    const r = await run('node', [BIN, 'occupancy-check', ...args], { timeout: 240_000 });
    return { code: 0, json: JSON.parse(r.stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, json: JSON.parse(e.stdout) };
  }
}

beforeAll(async () => {
  truth = writeComposite(join(dir, 'room.jpg'), { faceW: 64 }) as number;
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-loop', '1', '-i', join(dir, 'room.jpg'), '-t', '10'],
    ...['-r', '25', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p'],
    join(dir, 'room.mp4'),
  ]);
  writeFileSync(
    config,
    JSON.stringify({
      agent: 'box-1',
      room: { id: 'A101' },
      broker: { url: 'mqtt://127.0.0.1:1' },
      dataDir: join(dir, 'data'),
      sources: [
        { id: 'cam', kind: 'camera', input: join(dir, 'room.mp4') },
        { id: 'mic', kind: 'microphone', input: 'alsa:hw:9' },
      ],
    }),
  );
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('classroom-agent occupancy-check', () => {
  it('counts a camera now, prints JSON, and writes the annotated frame only where --out says', async () => {
    const out = join(dir, 'check.jpg');
    const { code, json } = await check([
      '--config',
      config,
      '--source',
      'cam',
      '--expected',
      String(truth),
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(json).toMatchObject({ source: 'cam', backend: 'wasm', expected: truth, out });
    const people = json.people as number;
    expect(Math.abs(people - truth), `${people} for ${truth}`).toBeLessThanOrEqual(Math.ceil(truth * 0.15));
    expect(json.boxes as unknown[]).toHaveLength(people);
    expect(typeof json.ms).toBe('number');
    // The picture counted, as the agent's monitor counts it: the frame scaled to COUNT_WIDTH.
    const img = jpeg.decode(readFileSync(out), { useTArray: true });
    expect([img.width, img.height]).toEqual([COUNT_WIDTH, 540]);
    // Boxes are drawn in pure green: the picture holds many such pixels, the source none.
    let green = 0;
    for (let i = 0; i < img.data.length; i += 4)
      if (img.data[i]! < 60 && img.data[i + 1]! > 200 && img.data[i + 2]! < 60) green++;
    expect(green).toBeGreaterThan(people * 20);
    expect(statSync(out).mode & 0o077).toBe(0);
  }, 300_000);

  it('answers an unknown source or a microphone with an error and exit 1', async () => {
    const a = await check(['--config', config, '--source', 'nope']);
    expect(a.code).toBe(1);
    expect(a.json.error).toMatch(/no source "nope"/);
    const b = await check(['--config', config, '--source', 'mic']);
    expect(b.code).toBe(1);
    expect(b.json.error).toMatch(/microphone/);
  }, 120_000);
});

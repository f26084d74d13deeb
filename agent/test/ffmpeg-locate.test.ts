import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FfmpegNotFoundError, locateFfmpeg } from '../src/ffmpeg/locate.js';

const dir = mkdtempSync(join(tmpdir(), 'ffloc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeBin(sub: string, name: string): string {
  const d = join(dir, sub);
  execFileSync('mkdir', ['-p', d]);
  const p = join(d, name);
  writeFileSync(p, `#!/bin/sh\necho ${sub}-${name}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('ffmpeg locator', () => {
  it('prefers FFMPEG_PATH / FFPROBE_PATH', () => {
    const ff = fakeBin('env', 'ffmpeg');
    const fp = fakeBin('env', 'ffprobe');
    const t = locateFfmpeg({
      env: { FFMPEG_PATH: ff, FFPROBE_PATH: fp, PATH: '/usr/bin' },
      ffmpegStatic: () => '/nope',
    });
    expect(t.ffmpeg).toEqual({ path: ff, origin: 'env' });
    expect(t.ffprobe).toEqual({ path: fp, origin: 'env' });
  });

  it('refuses an FFMPEG_PATH that is not executable, naming it', () => {
    expect(() => locateFfmpeg({ env: { FFMPEG_PATH: join(dir, 'missing'), PATH: '/usr/bin' } })).toThrow(
      /FFMPEG_PATH=.*missing.*apt-get install -y ffmpeg/,
    );
  });

  it('uses ffmpeg-static next, with an ffprobe beside it', () => {
    const ff = fakeBin('static', 'ffmpeg');
    const fp = fakeBin('static', 'ffprobe');
    const t = locateFfmpeg({ env: { PATH: '' }, ffmpegStatic: () => ff });
    expect(t.ffmpeg).toEqual({ path: ff, origin: 'ffmpeg-static' });
    expect(t.ffprobe).toEqual({ path: fp, origin: 'ffmpeg-static' });
  });

  it('falls back to PATH for ffprobe when ffmpeg-static has none', () => {
    const ff = fakeBin('static2', 'ffmpeg');
    const fp = fakeBin('bin', 'ffprobe');
    const t = locateFfmpeg({ env: { PATH: join(dir, 'bin') }, ffmpegStatic: () => ff });
    expect(t.ffmpeg.origin).toBe('ffmpeg-static');
    expect(t.ffprobe).toEqual({ path: fp, origin: 'path' });
  });

  it('finds the real ffmpeg on PATH, and it runs', () => {
    const t = locateFfmpeg({ env: { PATH: process.env.PATH }, ffmpegStatic: () => null });
    expect(t.ffmpeg.origin).toBe('path');
    expect(execFileSync(t.ffmpeg.path, ['-hide_banner', '-version']).toString()).toMatch(/^ffmpeg version/);
    expect(execFileSync(t.ffprobe.path, ['-hide_banner', '-version']).toString()).toMatch(/^ffprobe version/);
  });

  it('says how to install ffmpeg when nothing is found', () => {
    let err: unknown;
    try {
      locateFfmpeg({ env: { PATH: join(dir, 'empty') }, ffmpegStatic: () => null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FfmpegNotFoundError);
    expect((err as Error).message).toMatch(
      /ffmpeg not found.*ffmpeg-static \(not installed\).*apt-get install -y ffmpeg/,
    );
  });

  it('the default ffmpeg-static lookup does not throw when the package is absent', () => {
    expect(() => locateFfmpeg({ env: { PATH: process.env.PATH } })).not.toThrow();
  });
});

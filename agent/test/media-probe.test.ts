import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSourceMonitor } from '../src/media/index.js';
import { StreamInfoParser } from '../src/media/streaminfo.js';
import type { SourceMonitor } from '../src/media/types.js';
import { freeUdpPort, killAllGenerators, recorder, startGenerator, waitFor } from './media-support.js';

afterAll(() => killAllGenerators());

describe('StreamInfoParser', () => {
  it('reads the input description of ffmpeg 5.1 and ignores the outputs', () => {
    const got: unknown[] = [];
    const p = new StreamInfoParser((x) => got.push(x));
    const text = [
      "Input #0, mpegts, from 'udp://127.0.0.1:41234?timeout=3000000':",
      '  Duration: N/A, start: 1.400000, bitrate: N/A',
      '  Program 1 ',
      '    Metadata:',
      '      service_name    : Service01',
      '  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr, 90k tbn',
      '  Stream #0:1[0x101](eng): Audio: aac (LC) ([15][0][0][0] / 0x000F), 44100 Hz, 5.1(side), fltp, 128 kb/s',
      "Output #0, null, to 'pipe:':",
      '  Stream #0:0: Video: wrapped_avframe, 320x240, q=2-31, 25 fps',
    ];
    const consumed = text.map((l) => p.push(l));
    expect(consumed.slice(0, 7).every(Boolean)).toBe(true);
    expect(consumed[7]).toBe(false);
    expect(got).toEqual([
      {
        codec: 'h264',
        width: 1280,
        height: 720,
        fps: 29.97,
        audioCodec: 'aac',
        sampleRate: 44100,
        channels: 6,
      },
    ]);
  });
});

describe('probe of a running UDP source (one reader only)', () => {
  let mon: SourceMonitor | null = null;
  afterEach(async () => {
    await mon?.stop();
    mon = null;
  });

  it('is the real stream description, asked at start and while ffmpeg holds the port', async () => {
    const port = await freeUdpPort();
    const rec = recorder({ sourceStaleS: 10 }, 5);
    mon = createSourceMonitor({ id: 'cam1', kind: 'camera', input: `udp://127.0.0.1:${port}` }, rec.ctx);
    await mon.start();
    // Birth asks right away, while the monitor itself is still starting.
    const early = mon.probe();
    startGenerator({ port, duration: 40, size: '640x360', rate: 25 });
    const expected = {
      codec: 'h264',
      width: 640,
      height: 360,
      fps: 25,
      audioCodec: 'aac',
      sampleRate: 48000,
      channels: 2,
    };
    expect(await early).toEqual(expected);
    await waitFor(() => mon!.status().state === 'running', 30_000, 'monitor running');
    // A later birth (reconnect) and an explicit refresh while ffmpeg holds the UDP port.
    const again = await mon.probe();
    const fresh = await mon.probe(true);
    for (const p of [again, fresh]) {
      expect(p.error).toBeUndefined();
      expect(p).toEqual(expected);
    }
    // The monitor kept running: nothing fought over the port.
    await waitFor(() => rec.windows.some((w) => (w.video?.fps ?? 0) > 20), 20_000, 'a window with fps');
    expect(rec.events.filter((e) => e.type === 'source.down')).toEqual([]);
    expect(mon.status().state).toBe('running');
  }, 60_000);
});

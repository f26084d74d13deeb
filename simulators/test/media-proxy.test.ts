import { execFile } from 'node:child_process';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { cameraArgs, findFont, micArgs, shiftSpans } from '../src/media/graph.js';
import { FlakyProxy } from '../src/proxy.js';
import { waitFor } from './helpers.js';

const run = promisify(execFile);
const log = pino({ level: 'silent' });

describe('media graphs', () => {
  it('shifts fault spans into a restarted generator clock and drops spans already over', () => {
    expect(
      shiftSpans(
        [
          { fromS: 5, toS: 10 },
          { fromS: 20, toS: 30 },
        ],
        8,
      ),
    ).toEqual([
      { fromS: 0, toS: 2 },
      { fromS: 12, toS: 22 },
    ]);
    expect(shiftSpans([{ fromS: 1, toS: 3 }], 3)).toEqual([]);
  });

  // Render the real graphs to a file at test time and let ffmpeg's own detectors find the faults
  // exactly where the timeline put them (the agent relies on these same detectors).
  it('camera graph: black and frozen exactly where the timeline says, moving picture elsewhere', async () => {
    const ffmpeg = locateFfmpeg().ffmpeg.path;
    const args = cameraArgs({
      port: 9,
      width: 160,
      height: 120,
      fps: 10,
      label: 'T 1',
      black: [{ fromS: 2, toS: 4 }],
      frozen: [{ fromS: 5, toS: 7 }],
      offsetS: 0,
      fontFile: findFont(),
    });
    // Same graph, rendered faster than real time to a null muxer through the detectors.
    const i = args.indexOf('-map');
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    const detect = graph.replace(/\[v\]$/, ',blackdetect=d=1,freezedetect=d=1[v]');
    const inputs = args
      .slice(args.indexOf('-re'), args.indexOf('-filter_complex'))
      .filter((a) => a !== '-re');
    const { stderr } = await run(ffmpeg, [
      '-hide_banner',
      ...inputs,
      '-filter_complex',
      detect,
      ...args.slice(i, i + 2),
      '-t',
      '8.5',
      '-f',
      'null',
      '-',
    ]);
    const black = /black_start:([\d.]+) black_end:([\d.]+)/.exec(stderr);
    expect(black).not.toBeNull();
    expect(Number(black![1])).toBeCloseTo(2, 0);
    expect(Number(black![2])).toBeCloseTo(4, 0);
    const starts = [...stderr.matchAll(/freeze_start: ([\d.]+)/g)].map((m) => Number(m[1]));
    const ends = [...stderr.matchAll(/freeze_end: ([\d.]+)/g)].map((m) => Number(m[1]));
    // Only the scripted freeze: the covered lens has sensor noise, so it is black but not frozen.
    expect(starts).toHaveLength(1);
    expect(starts[0]).toBeCloseTo(5, 0);
    expect(ends[0]).toBeCloseTo(7, 0);
  }, 30_000);

  it('mic graph: sound, then digital silence in the muted span', async () => {
    const ffmpeg = locateFfmpeg().ffmpeg.path;
    const args = micArgs({ port: 9, sampleRate: 16000, silent: [{ fromS: 2, toS: 4 }], offsetS: 0 });
    const { stderr } = await run(ffmpeg, [
      '-hide_banner',
      '-f',
      'lavfi',
      '-i',
      args[args.indexOf('-i') + 1]!,
      '-af',
      `${args[args.indexOf('-af') + 1]},silencedetect=n=-50dB:d=1`,
      '-t',
      '6',
      '-f',
      'null',
      '-',
    ]);
    const starts = [...stderr.matchAll(/silence_start: ([\d.]+)/g)].map((m) => Number(m[1]));
    const ends = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(starts).toHaveLength(1);
    expect(starts[0]).toBeCloseTo(2, 0);
    expect(ends[0]).toBeCloseTo(4, 0);
  }, 30_000);
});

describe('FlakyProxy', () => {
  let echo: Server;
  const proxies: FlakyProxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await new Promise((r) => echo?.close(r));
  });

  const talk = (port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
  const roundTrip = (s: Socket, text: string): Promise<string> =>
    new Promise((resolve) => {
      s.once('data', (d) => resolve(d.toString()));
      s.write(text);
    });

  it('relays, cuts every connection and refuses new ones while down, then relays again', async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const proxy = new FlakyProxy(log, {
      targetHost: '127.0.0.1',
      targetPort: (echo.address() as AddressInfo).port,
    });
    proxies.push(proxy);
    const port = await proxy.start();
    const a = await talk(port);
    expect(await roundTrip(a, 'hello')).toBe('hello');
    const closed = new Promise((r) => a.once('close', r));
    proxy.cut();
    await closed;
    expect(proxy.stats()).toMatchObject({ cuts: 1, open: 0 });
    const refused = await talk(port);
    await new Promise((r) => refused.once('close', r));
    expect(refused.bytesRead).toBe(0);
    proxy.restore();
    const b = await talk(port);
    expect(await roundTrip(b, 'again')).toBe('again');
    await waitFor(() => proxy.stats().open === 1, 'one open pair', 5000);
    b.destroy();
  });

  it('black hole: keeps the socket open and forwards nothing until restored', async () => {
    const proxy = new FlakyProxy(log, {
      targetHost: '127.0.0.1',
      targetPort: (echo.address() as AddressInfo).port,
    });
    proxies.push(proxy);
    const s = await talk(await proxy.start());
    expect(await roundTrip(s, 'before')).toBe('before');
    let heard = '';
    s.on('data', (d) => {
      heard += d.toString();
    });
    proxy.blackhole();
    s.write('lost in the hole');
    // Once the proxy has taken those bytes in and dropped them, restore and send a marker: only the
    // marker comes back, on the same connection.
    await waitFor(() => proxy.stats().swallowedBytes === 'lost in the hole'.length, 'bytes swallowed', 5000);
    expect(s.destroyed).toBe(false);
    proxy.restore();
    s.write('after');
    await waitFor(() => heard.includes('after'), 'the marker echoed after the restore', 5000);
    expect(heard).toBe('after');
    expect(proxy.stats()).toMatchObject({ cuts: 0, blackholes: 1, open: 1 });
    s.destroy();
  });

  it('delay: never reorders chunks when the delay changes mid-stream', async () => {
    const proxy = new FlakyProxy(log, {
      targetHost: '127.0.0.1',
      targetPort: (echo.address() as AddressInfo).port,
    });
    proxies.push(proxy);
    const s = await talk(await proxy.start());
    let heard = '';
    s.on('data', (d) => {
      heard += d.toString();
    });
    proxy.setDelay(300);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Halfway through, the delay drops to 0: later chunks must still wait behind earlier ones.
      if (i === 10) proxy.setDelay(0);
      const chunk = `<${i}>`;
      sent.push(chunk);
      s.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => heard.length === sent.join('').length, 'every chunk echoed', 10_000);
    expect(heard).toBe(sent.join(''));
    s.destroy();
  });
});

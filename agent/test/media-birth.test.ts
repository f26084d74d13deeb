import { afterEach, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../src/ffmpeg/locate.js';
import { createSourceMonitor } from '../src/media/index.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { startBroker, type TestBroker, TestHub, waitFor } from './helpers/broker.js';
import { freeUdpPort, killAll, startCamera } from './helpers/procs.js';

interface BirthMsg {
  sources: { id: string; probe: Record<string, unknown> }[];
}

describe('birth probe of a UDP camera (real monitor, real ffmpeg, in-process broker)', () => {
  let broker: TestBroker | null = null;
  let hub: TestHub | null = null;
  let agent: ReturnType<typeof testAgent> | null = null;
  let dir = '';

  afterEach(async () => {
    await agent?.app.stop();
    killAll();
    await hub?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  it('a birth sent before the stream is known is followed by one with the real probe, never a bind error', async () => {
    broker = await startBroker();
    hub = new TestHub();
    await hub.connect(broker.url);
    dir = tempDir();
    const port = await freeUdpPort();
    const config = testConfig(dir, broker.url, {
      sources: [{ id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${port}` }],
    });
    agent = testAgent(config, {
      createMonitor: createSourceMonitor,
      ffmpeg: locateFfmpeg(),
      probeTimeoutMs: 1000,
    });
    await agent.app.start();
    await waitFor(() => hub!.on('/birth').length > 0, 'first birth');
    const first = hub.on('/birth')[0] as BirthMsg;
    // Nothing streams yet: the birth says so instead of waiting.
    expect(first.sources[0]!.probe.error).toMatch(/longer than 1000 ms/);
    startCamera(port, 60);
    await waitFor(
      () => (hub!.on('/birth').at(-1) as BirthMsg).sources[0]!.probe.codec === 'h264',
      'birth with the probe',
      40_000,
    );
    const births = hub.on('/birth') as BirthMsg[];
    expect(births.at(-1)!.sources[0]!.probe).toEqual({
      codec: 'h264',
      width: 320,
      height: 180,
      fps: 10,
      audioCodec: 'aac',
      sampleRate: 48000,
      channels: 1,
    });
    for (const b of births) expect(JSON.stringify(b.sources[0]!.probe)).not.toMatch(/bind failed|in use/i);
  }, 60_000);
});

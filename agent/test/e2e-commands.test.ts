import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from './helpers/agent.js';
import { freePort, waitFor } from './helpers/broker.js';
import {
  addAgent,
  freeUdpPort,
  type Hub,
  killAll,
  startAgent,
  startCamera,
  startHub,
  writeAgentConfig,
} from './helpers/procs.js';

interface CommandView {
  id: string;
  status: string;
  error: string | null;
  data: Record<string, unknown> | null;
}
interface AgentView {
  availability: string;
  birth: { configVersion: number; sources: { id: string; probe: Record<string, unknown> }[] } | null;
  telemetry: {
    outboxPending: number;
    memTotalBytes: number;
    diskTotalBytes: number;
    session: number;
    watch?: { id: string; mode: string }[];
  } | null;
}

// Commands through the real hub's API (POST /api/agents/{id}/commands) to a real agent process whose
// camera monitor is a real ffmpeg on a UDP stream. Expired and duplicate ids: commands.test.ts.
describe('end to end: commands through the hub to an agent on a UDP camera', () => {
  let hub: Hub;
  const dirs: string[] = [];

  function agentConfig(dir: string, agent: string, password: string, mqttPort: number, udp: number): string {
    return writeAgentConfig(dir, {
      agent,
      room: { id: `R-${agent}`, name: agent, building: 'B', floor: '2', campus: 'main' },
      broker: {
        url: `mqtt://127.0.0.1:${mqttPort}`,
        password,
        keepaliveS: 2,
        reconnectMinMs: 200,
        reconnectMaxMs: 1500,
      },
      dataDir: './data',
      sources: [{ id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${udp}` }],
      windowS: 2,
      telemetryIntervalS: 1,
    });
  }

  beforeAll(async () => {
    const hubDir = tempDir('e2e-hub-');
    dirs.push(hubDir);
    const mqttPort = await freePort();
    const udp = await freeUdpPort();
    const pw1 = await addAgent(hubDir, 'box-cmd', 'R-box-cmd');
    const pw2 = await addAgent(hubDir, 'box-noff', 'R-box-noff');
    hub = await startHub(hubDir, mqttPort);
    startCamera(udp);
    const d1 = tempDir('e2e-agent-');
    const d2 = tempDir('e2e-agent-');
    dirs.push(d1, d2);
    startAgent(agentConfig(d1, 'box-cmd', pw1, mqttPort, udp));
    // An agent on a box without ffmpeg: PATH holds only node's directory.
    const nodeDir = process.execPath.replace(/\/[^/]+$/, '');
    startAgent(agentConfig(d2, 'box-noff', pw2, mqttPort, udp), {
      ...process.env,
      PATH: nodeDir,
      FFMPEG_PATH: '/nonexistent/ffmpeg',
      FFPROBE_PATH: '/nonexistent/ffprobe',
    });
    await waitFor(async () => (await view('box-cmd')).availability === 'online', 'box-cmd online', 45_000);
  });

  afterAll(() => {
    killAll();
    for (const d of dirs) removeDir(d);
  });

  const view = (agent: string) => hub.api<AgentView>(`/api/agents/${agent}`);

  async function command(name: string, args: Record<string, unknown> = {}): Promise<CommandView> {
    const { id } = await hub.api<{ id: string }>('/api/agents/box-cmd/commands', {
      method: 'POST',
      body: { name, args },
    });
    return waitFor(
      async () => {
        const c = await hub.api<CommandView>(`/api/commands/${id}`);
        return c.status === 'ok' || c.status === 'error' ? c : null;
      },
      `result of ${name}`,
      40_000,
    );
  }

  it('snapshot returns a JPEG decoded by the running monitor', async () => {
    // The monitor needs a keyframe first; retry until it has one.
    const c = await waitFor(
      async () => {
        const r = await command('snapshot', { source: 'cam' });
        return r.status === 'ok' ? r : null;
      },
      'a snapshot',
      40_000,
    );
    const jpeg = Buffer.from(String(c.data?.jpeg), 'base64');
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    expect(c.data?.bytes).toBe(jpeg.length);
  });

  it('the patrol wall gets a 320 px thumbnail from the running monitor through the hub', async () => {
    // The hub asks the box with the `thumbnail` command; until the monitor has a picture it answers 204.
    const jpeg = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/rooms/R-box-cmd/thumbnail`, {
          headers: { authorization: `Bearer ${hub.token}` },
        });
        return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
      },
      'a thumbnail',
      40_000,
    );
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(jpegSize(jpeg).width).toBe(320);
    // The view is in the audit log, as the admin token (automation).
    expect((await hub.api<{ entries: unknown[] }>('/api/audit?action=patrol.view')).entries.length).toBe(1);
  });

  it('restart-source, rebirth, set-config, sleep and wake', async () => {
    expect(await command('restart-source', { source: 'cam' })).toMatchObject({ status: 'ok' });
    expect((await command('restart-source', { source: 'mic' })).error).toMatch(/no source "mic"/);
    expect(await command('rebirth')).toMatchObject({ status: 'ok' });
    expect(await command('set-config', { windowS: 3 })).toMatchObject({
      status: 'ok',
      data: { configVersion: 1 },
    });
    await waitFor(
      async () => (await view('box-cmd')).birth?.configVersion === 1,
      'birth with configVersion 1',
    );
    expect((await command('set-config', { windowS: 'ten' })).error).toMatch(/windowS/);
    expect(await command('sleep')).toMatchObject({ status: 'ok' });
    await waitFor(async () => (await view('box-cmd')).availability === 'sleeping', 'sleeping');
    expect(await command('wake')).toMatchObject({ status: 'ok' });
    await waitFor(async () => (await view('box-cmd')).availability === 'online', 'online after wake');
    // wake restarted the monitor: it decodes frames again
    await waitFor(
      async () => (await command('snapshot', { source: 'cam' })).status === 'ok',
      'snapshot after wake',
      40_000,
    );
  });

  it('without ffmpeg the agent still reports telemetry, and birth says why the source cannot run', async () => {
    const v = await waitFor(
      async () => {
        const a = await view('box-noff');
        return a.telemetry && a.birth ? a : null;
      },
      'telemetry and birth of box-noff',
      40_000,
    );
    expect(v.availability).toBe('online');
    expect(v.telemetry!.memTotalBytes).toBeGreaterThan(0);
    expect(v.telemetry!.diskTotalBytes).toBeGreaterThan(0);
    expect(String(v.birth!.sources[0]!.probe.error)).toMatch(/ffmpeg not found|ffprobe not found/);
  });

  // Last: it rests the camera. docs/agent-media.md "Duty cycle": the hub sends the room's timetable
  // with the retained config, and the box reports its sources on the duty cycle in telemetry.
  it('a timetable imported on the hub puts the box on the off-hours duty cycle', async () => {
    const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    await hub.api('/api/rooms/R-box-cmd/schedule', {
      method: 'PUT',
      body: { format: 'csv', content: `date,start,end,title\n${day},08:00,08:45,Physics\n` },
    });
    const v = await waitFor(
      async () => {
        const a = await view('box-cmd');
        return a.telemetry?.watch?.[0]?.mode === 'duty' ? a : null;
      },
      'telemetry with watch mode duty',
      40_000,
    );
    expect(v.telemetry!.watch).toEqual([{ id: 'cam', mode: 'duty' }]);
  });
});

/** Width and height from a JPEG's start-of-frame marker. */
function jpegSize(b: Buffer): { width: number; height: number } {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) throw new Error(`not a JPEG marker at ${i}`);
    const marker = b[i + 1]!;
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3)
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error('no start-of-frame marker');
}

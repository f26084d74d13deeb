import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signalGroup, waitExit } from '../src/proc.js';
import { processesMatching, removeDir, tempDir, waitFor } from './helpers.js';

// `classroom-sim demo` as a user runs it: it starts, fills the campus, prints the dashboard link,
// and on SIGTERM stops with no ffmpeg or agent left behind (docs/simulators.md "classroom-sim demo").
const BIN = new URL('../bin/classroom-sim.js', import.meta.url).pathname;
const dir = tempDir('demo-');
const child = spawn(
  process.execPath,
  [BIN, 'demo', '--data-dir', join(dir, 'data'), '--http-port', '0', '--mqtt-port', '0', '--pace-s', '8'],
  { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
);
let out = '';
child.stdout.on('data', (d: Buffer) => {
  out += d.toString();
});
child.stderr.on('data', (d: Buffer) => {
  out += d.toString();
});

afterAll(async () => {
  // A failed test still stops the demo the way a user would, so that it cleans up after itself.
  signalGroup(child, 'SIGTERM');
  await Promise.race([waitExit(child), new Promise((r) => setTimeout(r, 20_000))]);
  signalGroup(child, 'SIGKILL');
  await waitExit(child);
  removeDir(dir);
});

describe('classroom-sim demo', () => {
  it('runs 12 rooms in 2 buildings with 6 real agents, prints the dashboard link, and stops cleanly', async () => {
    const url = await waitFor(
      () => /http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_.%~-]+/.exec(out)?.[0],
      'dashboard URL',
      // The people rooms render their pictures before the demo is up (a few ffmpeg runs).
      45_000,
    );
    const api = url.slice(0, url.indexOf('/#'));
    const token = decodeURIComponent(url.slice(url.indexOf('=') + 1));
    const get = async <T>(path: string): Promise<T> =>
      (await (await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
    const dashboard = await fetch(`${api}/`);
    expect(dashboard.status).toBe(200);
    type Rooms = {
      rooms: Array<{
        room: { id: string; building: string };
        agents: Array<{ agent: string; availability: string }>;
      }>;
    };
    const rooms = await waitFor(
      async () => {
        const r = await get<Rooms>('/api/rooms');
        const online = r.rooms.filter((x) => x.agents.some((a) => a.availability === 'online'));
        // Birth fills in the building; before it the hub knows only the provisioned room id.
        return online.length === 12 && r.rooms.every((x) => x.room.building !== '') ? r : null;
      },
      '12 rooms online',
      40_000,
    );
    expect(rooms.rooms).toHaveLength(12);
    expect(new Set(rooms.rooms.map((r) => r.room.building))).toEqual(new Set(['Building A', 'Building B']));
    const real = rooms.rooms.flatMap((r) => r.agents).filter((a) => a.agent.startsWith('box-'));
    expect(real).toHaveLength(6);
    const ports = [...out.matchAll(/"cameraPort":(\d+),"micPort":(\d+)/g)].flatMap((m) => [m[1]!, m[2]!]);
    expect(ports).toHaveLength(12);
    const needles = [...ports.map((p) => `127.0.0.1:${p}`), dir];
    expect(needles.flatMap((n) => processesMatching(n)).length).toBeGreaterThanOrEqual(18);

    signalGroup(child, 'SIGTERM');
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, 'demo exit', 30_000);
    expect(child.exitCode).toBe(0);
    // Nothing of the demo is left: no generator, no agent, no agent ffmpeg (their lifelines close too).
    const left = await waitFor(
      () => {
        const l = needles.flatMap((n) => processesMatching(n));
        return l.length === 0 ? l : null;
      },
      'no orphans',
      10_000,
    ).catch(() => needles.flatMap((n) => processesMatching(n)));
    expect(left).toEqual([]);
  }, 100_000);
});

describe('classroom-sim room killed -9', () => {
  it('leaves no agent or ffmpeg behind: every child holds a lifeline to the simulator', async () => {
    const work = tempDir('room-kill-');
    const room = spawn(
      process.execPath,
      [BIN, 'room', '--scenario', 'lecture', '--pace-s', '30', '--work-dir', work],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let log = '';
    room.stdout.on('data', (d: Buffer) => {
      log += d.toString();
    });
    try {
      const m = await waitFor(() => /"cameraPort":(\d+),"micPort":(\d+)/.exec(log), 'room started', 30_000);
      const needles = [work, `127.0.0.1:${m[1]}`, `127.0.0.1:${m[2]}`];
      // The agent and the agent's own ffmpeg monitors are up.
      await waitFor(
        () =>
          processesMatching(work).some((p) => p.cmd.includes('classroom-agent')) &&
          processesMatching(`127.0.0.1:${m[1]}`).length >= 2,
        'agent and monitors running',
        30_000,
      );
      process.kill(room.pid!, 'SIGKILL');
      const left = await waitFor(
        () => (needles.flatMap((n) => processesMatching(n)).length === 0 ? [] : null),
        'no orphans after kill -9',
        20_000,
      ).catch(() => needles.flatMap((n) => processesMatching(n)));
      expect(left).toEqual([]);
    } finally {
      signalGroup(room, 'SIGKILL');
      removeDir(work);
    }
  }, 58_000);
});

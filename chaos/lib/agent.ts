// A real classroom-agent process (agent/bin) for the chaos cases that need one: a synthetic UDP
// camera (ffmpeg test pattern), an account provisioned through the hub's API, and its SQLite outbox
// read from outside as its own ledger (meta lastSeq: the last seq it ever assigned).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freeUdpPort,
  kill,
  type Proc,
  readOutbox,
  startAgent,
  startCamera,
  writeAgentConfig,
} from '../../agent/test/helpers/procs.js';

export { kill, readOutbox };

export interface RealAgent {
  agent: string;
  dataDir: string;
  proc: Proc;
  /** Starts the agent process again on the same config and data dir (after a kill). */
  restart(): void;
  output(): string;
  stop(): void;
}

export async function startRealAgent(opts: {
  agent: string;
  room: string;
  api: string;
  adminToken: string;
  brokerUrl: string;
  /** Where the outbox lives (a small tmpfs in the full-disk case); a temp dir by default. */
  dataDir?: string;
  extra?: Record<string, unknown>;
}): Promise<RealAgent> {
  const res = await fetch(`${opts.api}/api/agents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent: opts.agent, room: opts.room, name: opts.room }),
  });
  if (!res.ok) throw new Error(`POST /api/agents: ${res.status} ${await res.text()}`);
  const { password } = (await res.json()) as { password: string };
  const dir = mkdtempSync(join(tmpdir(), 'chaos-agent-'));
  const udp = await freeUdpPort();
  const camera = startCamera(udp, 900);
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const configFile = writeAgentConfig(dir, {
    agent: opts.agent,
    room: { id: opts.room, name: opts.room, building: 'A', floor: '1', campus: 'Main' },
    broker: {
      url: opts.brokerUrl,
      username: opts.agent,
      password,
      keepaliveS: 3,
      reconnectMinMs: 200,
      reconnectMaxMs: 2000,
    },
    dataDir,
    sources: [{ id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${udp}` }],
    windowS: 1,
    telemetryIntervalS: 2,
    logLevel: 'info',
    ...opts.extra,
  });
  let log = '';
  const self: RealAgent = {
    agent: opts.agent,
    dataDir,
    proc: startAgent(configFile),
    restart() {
      log += self.proc.output();
      self.proc = startAgent(configFile);
    },
    output: () => (log + self.proc.output()).slice(-4000),
    stop() {
      kill(self.proc, 'SIGKILL');
      kill(camera);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** Waits for the process to exit (after a kill). */
export function exitOf(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.child.once('exit', () => resolve()));
}

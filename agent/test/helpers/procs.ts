// Real processes for the end-to-end tests: the hub (classroom-hub serve), the agent
// (classroom-agent) and a synthetic UDP camera (ffmpeg lavfi → MPEG-TS). Each runs in its own
// process group so that a kill takes its ffmpeg children with it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sqlite3 from 'sqlite3';
import { locateFfmpeg } from '../../src/ffmpeg/locate.js';
import { waitFor } from './broker.js';

const run = promisify(execFile);
const ROOT = new URL('../../../', import.meta.url).pathname;
export const HUB_BIN = join(ROOT, 'hub/bin/classroom-hub.js');
export const AGENT_BIN = join(ROOT, 'agent/bin/classroom-agent.js');

const running = new Set<ChildProcess>();

export interface Proc {
  child: ChildProcess;
  output: () => string;
}

function start(cmd: string, args: string[], name: string, env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
    if (process.env.E2E_LOG) process.stderr.write(`[${name}] ${d}`);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return { child, output: () => out };
}

export function kill(p: Proc | ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  const child = 'child' in p ? p.child : p;
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export async function exited(p: Proc, timeoutMs = 20_000): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('process did not exit')), timeoutMs);
    p.child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Kills every process these helpers started (afterAll). */
export function killAll(): void {
  for (const c of running) kill(c);
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A network camera stand-in: H.264 + AAC test pattern in real time to udp://127.0.0.1:port. */
export function startCamera(port: number, seconds = 600): Proc {
  const ffmpeg = locateFfmpeg().ffmpeg.path;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'];
  args.push('-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=10', '-f', 'lavfi', '-i', 'sine=f=440:r=48000');
  args.push(
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    '10',
  );
  args.push(
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'mpegts',
    `udp://127.0.0.1:${port}?pkt_size=1316`,
  );
  return start(ffmpeg, args, 'camera');
}

export interface Hub extends Proc {
  httpPort: number;
  mqttPort: number;
  token: string;
  api<T>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
}

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

export async function addAgent(dataDir: string, agent: string, room: string): Promise<string> {
  const { stdout } = await run(process.execPath, [
    HUB_BIN,
    'agents',
    'add',
    '--agent',
    agent,
    '--room',
    room,
    '--data-dir',
    dataDir,
  ]);
  return (JSON.parse(stdout) as { password: string }).password;
}

export async function startHub(dataDir: string, mqttPort: number): Promise<Hub> {
  const p = start(
    process.execPath,
    [
      HUB_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--mqtt-port',
      String(mqttPort),
      '--http-port',
      '0',
      '--admin-token',
      ADMIN_TOKEN,
    ],
    'hub',
  );
  const line = await waitFor(
    () =>
      p
        .output()
        .split('\n')
        .find((l) => l.includes('"hub.listening"')),
    'hub.listening',
    45_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; hub said: ${p.output().slice(-2000)}`);
  });
  const { httpPort } = JSON.parse(line) as { httpPort: number };
  const api = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return { ...p, httpPort, mqttPort, token: ADMIN_TOKEN, api };
}

export interface StoredRecordView {
  historical: boolean;
  record: { seq: number; kind: string; type?: string };
}

/** Every record the hub stored for an agent, following the cursor. */
export async function hubRecords(hub: Hub, agent: string): Promise<StoredRecordView[]> {
  const out: StoredRecordView[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `/api/records?agent=${agent}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: { records: StoredRecordView[]; nextCursor: string | null } = await hub.api(q);
    out.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export function writeAgentConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export function startAgent(configFile: string, env: NodeJS.ProcessEnv = process.env): Proc {
  return start(process.execPath, [AGENT_BIN, '--config', configFile], 'agent', env);
}

/** Reads the agent's outbox file while the agent may be running (WAL lets readers in). */
export async function readOutbox(dataDir: string): Promise<{ lastSeq: number; pending: number[] }> {
  const empty = { lastSeq: 0, pending: [] };
  const db = await new Promise<sqlite3.Database | null>((resolve) => {
    const d = new sqlite3.Database(join(dataDir, 'agent.db'), sqlite3.OPEN_READONLY, (err) =>
      resolve(err ? null : d),
    );
  });
  if (!db) return empty; // not created yet
  const all = <T>(sql: string) =>
    new Promise<T[]>((resolve, reject) =>
      db.all(sql, (err, rows) => (err ? reject(err) : resolve(rows as T[]))),
    );
  try {
    const meta = await all<{ value: number }>("SELECT value FROM meta WHERE key = 'lastSeq'");
    const rows = await all<{ seq: number }>('SELECT seq FROM outbox ORDER BY seq');
    return { lastSeq: meta[0]?.value ?? 0, pending: rows.map((r) => r.seq) };
  } catch {
    return empty; // tables not created yet
  } finally {
    db.close();
  }
}

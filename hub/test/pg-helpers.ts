// A real, throwaway PostgreSQL 15 server for the pg-* tests: initdb into a temp dir owned by the
// `postgres` user (the tests run as root, and postgres refuses to run as root), listening on a free
// loopback port with its unix socket inside the temp dir. Stopped and removed by the returned stop().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { tempDir, waitFor } from './core-helpers.js';

/** The newest installed Debian PostgreSQL server (15 on bookworm). */
function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error(`no PostgreSQL server under ${base} (apt-get install postgresql)`);
  return join(base, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` user. */
const asRoot = process.getuid?.() === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface TestPostgres {
  port: number;
  /** URL of a fresh, empty database (created on each call). */
  createDatabase(name: string): Promise<string>;
  /** Shuts the server down (fast shutdown: connections are dropped); the data stay. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

function command(args: string[]): [string, string[]] {
  const [cmd = '', ...rest] = args;
  return asRoot ? ['runuser', ['-u', 'postgres', '--', ...args]] : [cmd, rest];
}

export async function startPostgres(): Promise<TestPostgres> {
  const BIN = pgBin();
  const root = mkdtempSync(join(tmpdir(), 'hub-pg-'));
  if (asRoot) {
    const { uid, gid } = pgIds();
    chownSync(root, uid, gid);
  }
  const data = join(root, 'data');
  execFileSync(
    ...command([`${BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']),
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let proc: ChildProcess | null = null;

  const halt = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || !p.pid) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    try {
      process.kill(-p.pid, 'SIGINT'); // fast shutdown of the postmaster and its backends
    } catch {}
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000));
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
      await exited;
    }
  };

  const launch = async () => {
    // fsync off: these tests check SQL semantics and sharing, not PostgreSQL's own crash safety.
    const p = spawn(
      ...command([
        `${BIN}/postgres`,
        '-D',
        data,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        root,
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=100',
      ]),
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    proc = p;
    let log = '';
    p.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-4000);
    });
    await waitFor(
      `postgres on ${port}`,
      async () => {
        if (p.exitCode !== null) throw new Error(`postgres exited: ${log}`);
        const c = new pg.Client({ connectionString: adminUrl });
        c.on('error', () => undefined);
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } catch {
          return false;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      30_000,
      100,
    );
  };

  const stop = async () => {
    await halt();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    async createDatabase(name: string) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    halt,
    resume: launch,
    stop,
  };
}

function pgIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** Debian's mosquitto on a free loopback port (anonymous, no persistence), as an external broker. */
export async function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  const t = tempDir('hub-pg-mosquitto-');
  const port = await freePort();
  const conf = join(t.dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.pid) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      process.kill(-proc.pid, 'SIGKILL');
      await exited;
    }
    t.remove();
  };
  const url = `mqtt://127.0.0.1:${port}`;
  try {
    await waitFor(`mosquitto on ${port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
      const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 2000 });
      try {
        await new Promise<void>((resolve, reject) => {
          c.once('connect', () => resolve());
          c.once('error', reject);
        });
        return true;
      } catch {
        return false;
      } finally {
        c.end(true);
      }
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop };
}

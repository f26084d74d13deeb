// Debian's mosquitto as the external broker of a chaos case, on a fixed loopback port so that it can
// be killed and started again where the hub and the boxes expect it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { waitFor } from './wait.js';

export interface Mosquitto {
  url: string;
  /** SIGTERM (clean shutdown) or SIGKILL, then a new process on the same port. */
  restart(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  stop(): Promise<void>;
}

export async function startMosquitto(port: number): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  // No persistence: a restart loses every session and queued message, the harshest restart there is.
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const url = `mqtt://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const p = spawn('/usr/sbin/mosquitto', ['-c', conf], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    proc = p;
    let err = '';
    p.stderr?.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-2000);
    });
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
        const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 2000 });
        try {
          await new Promise<void>((resolve, reject) => {
            c.once('connect', () => resolve());
            c.once('error', reject);
            c.once('close', () => reject(new Error('closed')));
          });
          return true;
        } catch {
          return false;
        } finally {
          c.end(true);
        }
      },
      `mosquitto on ${port}`,
      30_000,
      100,
    );
  };

  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || !p.pid) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    process.kill(-p.pid, signal);
    await exited;
  };

  await launch();
  return {
    url,
    restart: async (signal) => {
      await halt(signal);
      await launch();
    },
    stop: async () => {
      await halt('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Shared setup of the security tests: the built bin with exactly the given flags, the CLI, MQTT clients
// that connect as a box does (client id = agent id), and waits that resolve on events.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitFor } from './core-helpers.js';

export const HUB_BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;
const execFileAsync = promisify(execFile);

export interface HubProcess {
  proc: ChildProcess;
  httpPort: number;
  mqttPort: number;
  output(): string;
  stop(): Promise<void>;
}

/** `classroom-hub serve` with only `args` (no admin token unless given); waits for hub.listening. */
export async function serveHub(args: string[], env: Record<string, string> = {}): Promise<HubProcess> {
  const proc = spawn(process.execPath, [HUB_BIN, 'serve', '--http-port', '0', '--mqtt-port', '0', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'debug', ...env },
  });
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const line = await waitFor(
    'hub.listening',
    () => {
      if (proc.exitCode !== null) throw new Error(`hub exited: ${out}`);
      return out.split('\n').find((l) => l.includes('"event":"hub.listening"'));
    },
    30_000,
  );
  const parsed = JSON.parse(line) as { httpPort: number; mqttPort: number };
  return {
    proc,
    httpPort: parsed.httpPort,
    mqttPort: parsed.mqttPort,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.pid) {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}

/** Runs `classroom-hub <args>` and parses its JSON line; rejects with stderr on a non-zero exit. */
export async function hubCli<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const { stdout } = await execFileAsync(process.execPath, [HUB_BIN, ...args]);
  return JSON.parse(stdout) as T;
}

export async function hubCliFails(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await execFileAsync(process.execPath, [HUB_BIN, ...args]);
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  throw new Error(`classroom-hub ${args.join(' ')} unexpectedly succeeded`);
}

/** Connects as the box `agent` does: client id = agent id. */
export async function connectBox(
  port: number,
  agent: string,
  password: string,
  opts: IClientOptions = {},
): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: agent,
    username: agent,
    password,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...opts,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

/** A CONNECT expected to be refused; resolves with the CONNACK error. */
export async function boxRefused(
  port: number,
  agent: string,
  password: string,
): Promise<Error & { code?: number }> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: agent,
    username: agent,
    password,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  try {
    return await new Promise<Error & { code?: number }>((resolve, reject) => {
      client.once('connect', () => reject(new Error('connect unexpectedly accepted')));
      client.once('error', (err) => resolve(err as Error & { code?: number }));
    });
  } finally {
    client.end(true);
  }
}

export async function curl(args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await execFileAsync('curl', ['-sS', '-i', '--max-time', '20', ...args]);
  const sep = stdout.indexOf('\r\n\r\n');
  const headers = stdout.slice(0, sep);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1] ?? 0);
  return { status, body: stdout.slice(sep + 4), headers };
}

// Connections (docs/hub-perf.md; BENCHMARKS.md "Connections"): 5,000 boxes connected to one `classroom-hub serve` process. Reports the hub's
// RSS idle and with every box online, and the time from the first CONNECT until the hub lists all of
// them `online` (each box authenticates with its own scrypt-hashed password, then publishes state and
// birth). Baseline in the same run: the idle hub's RSS. Clients are MQTT.js in this process; loopback.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';

const N = Number(process.env.BENCH_CONNECTIONS ?? 5000);
const WAVE = 250;
const TOKEN = 'bench-admin-token-0123456789';
const HUB_BIN = new URL('../hub/bin/classroom-hub.js', import.meta.url).pathname;
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 240_000);

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

const dir = mkdtempSync(join(tmpdir(), 'bench-hub-conn-'));
const hub = spawn(
  process.execPath,
  [HUB_BIN, 'serve', '--data-dir', dir, '--http-port', '0', '--mqtt-port', '0', '--admin-token', TOKEN],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'warn' },
    detached: true,
  },
);
const cleanup = () => {
  try {
    process.kill(-hub.pid, 'SIGKILL');
  } catch {}
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(1));
let out = '';
const ports = await new Promise((resolve, reject) => {
  hub.stdout.on('data', (b) => {
    out += b.toString();
    const line = out.split('\n').find((l) => l.includes('"event":"hub.listening"'));
    if (line) resolve(JSON.parse(line));
  });
  hub.once('exit', () => reject(new Error(`hub exited: ${out}`)));
});
const api = async (method, path, body) => {
  const r = await fetch(`http://127.0.0.1:${ports.httpPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
};

const creds = new Array(N);
const tProv = performance.now();
for (let i = 0; i < N; i += 16) {
  await Promise.all(
    Array.from({ length: Math.min(16, N - i) }, async (_, k) => {
      creds[i + k] = await api('POST', '/api/agents', { agent: `box-${i + k}`, room: `R${i + k}` });
    }),
  );
}
const provS = (performance.now() - tProv) / 1000;
const idle = rssMb(hub.pid);

const clients = [];
const t0 = performance.now();
const birth = (i) =>
  JSON.stringify({
    v: 1,
    session: 1,
    ts: Date.now(),
    agentVersion: 'bench',
    room: { id: `R${i}`, name: `Room ${i}`, building: 'A', floor: '1', campus: 'Main' },
    sources: [
      {
        id: 'cam',
        kind: 'camera',
        label: 'Camera',
        probe: { codec: 'h264', width: 1280, height: 720, fps: 25 },
      },
    ],
    configVersion: 0,
    telemetryIntervalS: 60,
  });
for (let i = 0; i < N; i += WAVE) {
  await Promise.all(
    Array.from({ length: Math.min(WAVE, N - i) }, async (_, k) => {
      const id = i + k;
      const c = mqtt.connect(`mqtt://127.0.0.1:${ports.mqttPort}`, {
        username: `box-${id}`,
        password: creds[id].password,
        clientId: `box-${id}`,
        keepalive: 120,
        reconnectPeriod: 0,
        connectTimeout: 120_000,
        will: {
          topic: `classroom/v1/box-${id}/state`,
          payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session: 1, ts: Date.now() })),
          qos: 1,
          retain: true,
        },
      });
      await new Promise((r, j) => {
        c.once('connect', r);
        c.once('error', j);
      });
      c.publish(
        `classroom/v1/box-${id}/state`,
        JSON.stringify({ v: 1, state: 'online', session: 1, ts: Date.now() }),
        { qos: 1, retain: true },
      );
      c.publish(`classroom/v1/box-${id}/birth`, birth(id), { qos: 1 });
      clients.push(c);
    }),
  );
}
const connectedS = (performance.now() - t0) / 1000;
let online = 0;
while (performance.now() - t0 < DEADLINE_MS) {
  online = (await api('GET', '/api/health')).agents.online;
  if (online >= N) break;
  await new Promise((r) => setTimeout(r, 250));
}
const allOnlineS = (performance.now() - t0) / 1000;
const loaded = rssMb(hub.pid);
console.log(
  `Connections: ${N} boxes on one hub process (loopback, shared loaded 2-core machine; clients in the bench process).\n`,
);
console.log('| measure | value |');
console.log('|---|---:|');
console.log(`| provisioning ${N} agents over POST /api/agents (scrypt hash each) | ${provS.toFixed(1)} s |`);
console.log(`| hub RSS idle, agents provisioned (baseline) | ${idle.toFixed(0)} MB |`);
console.log(
  `| hub RSS with ${online} boxes online | ${loaded.toFixed(0)} MB (${(loaded / idle).toFixed(2)}× idle, ${(((loaded - idle) * 1024) / N).toFixed(0)} kB per box) |`,
);
console.log(`| time until all CONNACKed (scrypt verify each) | ${connectedS.toFixed(1)} s |`);
console.log(
  `| time until the hub lists all ${N} online | ${online >= N ? `${allOnlineS.toFixed(1)} s` : `not reached in ${DEADLINE_MS / 1000} s (${online} online)`} |`,
);
for (const c of clients) c.end(true);
process.exit(online >= N ? 0 : 1);

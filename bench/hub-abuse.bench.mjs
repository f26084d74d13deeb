// Abuse (docs/hub-identity.md "Abuse limits"; BENCHMARKS.md "Abuse"): one `classroom-hub serve` process,
// attacked with one box's and one platform account's credentials: waves of raw MQTT sockets, each
// CONNECT clean=false (fresh client ids, or the box's own), then three QoS 2 PUBLISH of ~1 MiB and never a
// PUBREL. Reports the hub's RSS idle (baseline, same run), at the end of the attack and after it, the
// persistent sessions it holds, and how many connections each limit closed. Loopback only, bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';

const CONNECTIONS = Number(process.env.BENCH_ABUSE_CONNECTIONS ?? 400);
const WAVE = 20;
const PUBLISHES = 3;
const PAYLOAD = Buffer.alloc(1_000_000, 0x61);
const TOKEN = 'bench-admin-token-0123456789';
const HUB_BIN = new URL('../hub/bin/classroom-hub.js', import.meta.url).pathname;

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'bench-hub-abuse-'));
const hub = spawn(
  process.execPath,
  [HUB_BIN, 'serve', '--data-dir', dir, '--http-port', '0', '--mqtt-port', '0', '--admin-token', TOKEN],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'error' },
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
  return path === '/metrics' ? r.text() : r.json();
};
const metric = async (series) => {
  const text = await api('GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

const box = await api('POST', '/api/agents', { agent: 'box-c', room: 'R-c' });
const platform = await api('POST', '/api/accounts', { account: 'tsp', role: 'platform' });
await sleep(2000);
const idle = rssMb(hub.pid);

/** One attacking connection; resolves with its CONNACK code (undefined: closed before one). */
function attack(i) {
  return new Promise((resolve) => {
    // A different source address per connection: the attack is not stopped by the per-address cap.
    const localAddress = `127.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)}`;
    const socket = createConnection({ host: '127.0.0.1', port: ports.mqttPort, localAddress });
    const [username, password, clientId] =
      i % 2 === 0
        ? ['tsp', platform.password, `tsp-${i}`]
        : ['box-c', box.password, i % 4 === 1 ? 'box-c' : `box-c-${i}`];
    let code;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') code = p.returnCode;
    });
    socket.on('data', (b) => parser.parse(b));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(code));
    socket.once('connect', () => {
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: false,
          clientId,
          keepalive: 60,
          username,
          password: Buffer.from(password),
        }),
      );
      for (let m = 1; m <= PUBLISHES; m++) {
        socket.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic: `classroom/v1/${username}/records`,
            qos: 2,
            messageId: m,
            payload: PAYLOAD,
            retain: false,
            dup: false,
          }),
        );
      }
    });
  });
}

const started = performance.now();
const codes = [];
let peak = idle;
for (let i = 0; i < CONNECTIONS; i += WAVE) {
  const wave = [];
  for (let j = i; j < Math.min(i + WAVE, CONNECTIONS); j++) wave.push(attack(j));
  codes.push(...(await Promise.all(wave)));
  peak = Math.max(peak, rssMb(hub.pid));
}
const seconds = (performance.now() - started) / 1000;
const atEnd = rssMb(hub.pid);
await sleep(5000);
const after = rssMb(hub.pid);
const sessions = await metric('classroom_hub_mqtt_persistent_sessions{state="offline"}');
const qos2 = await metric('classroom_hub_mqtt_connections_closed_total{reason="qos2"}');
const refusedId = await metric('classroom_hub_auth_refused_total{reason="client_id_mismatch"}');
const refusedSession = await metric('classroom_hub_auth_refused_total{reason="persistent_session"}');
const offeredMb = (CONNECTIONS * PUBLISHES * PAYLOAD.length) / 1024 / 1024;

console.log(`| measure | value |
|---|---:|
| attacking connections (clean=false, ${PUBLISHES} × QoS 2 of 1,000,000 B, no PUBREL) | ${CONNECTIONS} in ${seconds.toFixed(1)} s |
| payload offered | ${offeredMb.toFixed(0)} MiB |
| CONNACK 2 (fresh client ids) / accepted / closed before CONNACK | ${codes.filter((c) => c === 2).length} / ${codes.filter((c) => c === 0).length} / ${codes.filter((c) => c === undefined).length} |
| refused: client_id_mismatch / persistent_session; closed at QoS 2 | ${refusedId} / ${refusedSession}; ${qos2} |
| persistent sessions held afterwards | ${sessions} |
| hub RSS idle (baseline) | ${idle.toFixed(0)} MB |
| hub RSS peak during the attack | ${peak.toFixed(0)} MB (${(peak / idle).toFixed(2)}×) |
| hub RSS at the end / 5 s later | ${atEnd.toFixed(0)} / ${after.toFixed(0)} MB (${(after / idle).toFixed(2)}×) |`);
process.exit(0);

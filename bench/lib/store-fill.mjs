// Shared by the size and retention benchmarks: fills a hub's store directly, through the store's own
// batched insert (the group committer's JSON statement), and drives live boxes that wait for each ack.
import { INSERT_JSON_SQL, INSERT_JSON_SQL_PG } from '@classroom/hub';
import { connectClient } from './hub-boxes.mjs';

const ROWS_PER_STATEMENT = 5000;

function body(seq, kind, ts, i) {
  if (kind === 'event') {
    return {
      seq,
      kind: 'event',
      source: 'cam',
      ts,
      type: i % 2 ? 'video.black.start' : 'video.black.end',
      detail: {},
    };
  }
  return {
    seq,
    kind: 'capture',
    source: i % 2 ? 'mic' : 'cam',
    start: ts,
    end: ts + 10_000,
    video: {
      fps: 25,
      width: 1280,
      height: 720,
      keyframes: 5,
      bitrateKbps: 1900 + (i % 200),
      blackRatio: 0,
      frozenRatio: 0,
      motion: Math.round((i % 97) * 1.03) / 100,
    },
    audio: { rmsDb: -30 - (i % 10), peakDb: -10, loudnessLufs: -28.4, silenceRatio: (i % 10) / 10 },
  };
}

/**
 * Writes `perAgent` records for each agent, spread evenly over [fromTs, toTs) in seq order, one event
 * every `eventEvery` records. Rows go in as the ingest writes them (agent, seq, …, body), 5,000 a statement.
 */
export async function fillRecords(
  db,
  { agents, perAgent, fromTs, toTs, eventEvery = 100, seqStart = 1, onProgress },
) {
  const sql = db.dialect === 'postgres' ? INSERT_JSON_SQL_PG : INSERT_JSON_SQL;
  const step = (toTs - fromTs) / perAgent;
  let rows = [];
  let written = 0;
  const flush = async () => {
    if (rows.length === 0) return;
    await db.allWrite(sql, [JSON.stringify(rows)]);
    written += rows.length;
    rows = [];
    onProgress?.(written);
  };
  // Time-major order (all agents for one time slot, then the next), as a campus writes them.
  for (let k = 0; k < perAgent; k++) {
    const ts = Math.floor(fromTs + k * step);
    for (const [a, { agent, room }] of agents.entries()) {
      const seq = seqStart + k;
      const kind = (k + a) % eventEvery === 0 ? 'event' : 'capture';
      const b = body(seq, kind, ts, k + a);
      rows.push([
        agent,
        seq,
        kind,
        b.source,
        ts,
        kind === 'capture' ? ts + 10_000 : null,
        room,
        kind === 'event' ? b.type : null,
        0,
        ts,
        b,
      ]);
      if (rows.length >= ROWS_PER_STATEMENT) await flush();
    }
  }
  await flush();
  return written;
}

/** Provisions boxes `prefix-0…` in rooms `R0…` through the API, each connected with its own credentials. */
export async function provisionBoxes(hub, token, count, prefix = 'box') {
  const url = `mqtt://127.0.0.1:${hub.mqttPort}`;
  const boxes = [];
  for (let b = 0; b < count; b++) {
    const agent = `${prefix}-${b}`;
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent, room: `R${b}` }),
    });
    if (!res.ok) throw new Error(`provisioning ${agent} failed: ${res.status} ${await res.text()}`);
    const { password } = await res.json();
    boxes.push({ agent, room: `R${b}`, url, password });
  }
  return boxes;
}

function birth(room) {
  return {
    v: 1,
    session: 1,
    ts: Date.now(),
    agentVersion: 'bench',
    room: { id: room, name: room, building: 'A', floor: '1', campus: 'Main' },
    sources: [
      {
        id: 'cam',
        kind: 'camera',
        label: 'Camera',
        probe: { codec: 'h264', width: 1280, height: 720, fps: 25 },
      },
      { id: 'mic', kind: 'microphone', label: 'Mic', probe: { sampleRate: 48000, channels: 1 } },
    ],
    configVersion: 0,
    telemetryIntervalS: 30,
  };
}

/** Connects the boxes; each step() sends one live record (now) and resolves on its ack. */
export async function liveSenders(boxes, seqStart) {
  const clients = [];
  const steps = [];
  for (const b of boxes) {
    const c = await connectClient(b.url, { clientId: b.agent, username: b.agent, password: b.password });
    await c.subscribeAsync(`classroom/v1/${b.agent}/ack`, { qos: 0 });
    // The hub files records only for sources of the box's current birth (DESIGN.md "A box is only itself").
    await c.publishAsync(`classroom/v1/${b.agent}/birth`, JSON.stringify(birth(b.room)), { qos: 1 });
    clients.push(c);
    let seq = seqStart;
    let waiting = null;
    c.on('message', (_t, payload) => {
      const { ranges } = JSON.parse(payload.toString());
      if (waiting && ranges.some(([x, y]) => x <= waiting.seq && waiting.seq <= y)) waiting.resolve();
    });
    steps.push(
      () =>
        new Promise((resolve) => {
          seq++;
          waiting = { seq, resolve };
          const rec = body(seq, 'capture', Date.now(), seq);
          c.publish(`classroom/v1/${b.agent}/records`, JSON.stringify({ v: 1, session: 1, records: [rec] }), {
            qos: 1,
          });
        }),
    );
  }
  return {
    steps,
    close: () => {
      for (const c of clients) c.end(true);
    },
  };
}

/** Runs every step in a loop; returns records/s counted over `measureMs` after `warmupMs`. */
export async function drive(steps, { measureMs, warmupMs = 1000, until }) {
  let counting = false;
  let count = 0;
  let stop = false;
  const lat = [];
  const runners = steps.map(async (step) => {
    while (!stop) {
      const t = performance.now();
      await step();
      if (counting) {
        count++;
        lat.push(performance.now() - t);
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  counting = true;
  const t0 = performance.now();
  await Promise.race([new Promise((r) => setTimeout(r, measureMs)), ...(until ? [until] : [])]);
  counting = false;
  const elapsed = performance.now() - t0;
  stop = true;
  await Promise.all(runners);
  lat.sort((a, b) => a - b);
  const q = (x) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))] ?? 0;
  return { rate: (count / elapsed) * 1000, elapsedMs: elapsed, ackP99: q(0.99), ackMax: lat.at(-1) ?? 0 };
}

/** p50/p95 of `fn`'s latency over `n` calls, in ms. */
export async function latency(n, fn) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  return { p50: at(0.5), p95: at(0.95) };
}

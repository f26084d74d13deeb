// Dashboard smoothness with 1,000 rooms (docs/hub-people.md "Dashboard"; BENCHMARKS.md "Dashboard"): real headless Chromium (/usr/bin/chromium via
// playwright-core) loading the dashboard from a real in-process hub (`@classroom/hub`, built). The
// room list and /api/stream are replaced with Playwright routes so 1,000 rooms and bursts of live
// changes need no fleet. Baseline in the same run and the same page: a naive renderer that rebuilds
// the whole grid for every stream message (what a dashboard without batching or tile reuse does).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub } from '@classroom/hub';
import { chromium } from 'playwright-core';

const ROOMS = Number(process.env.BENCH_ROOMS ?? 1000);
const BURST = ROOMS;
const SUSTAINED_RATE = Number(process.env.BENCH_RATE ?? 200); // messages per second
const SUSTAINED_S = 5;
const BASELINE_UPDATES = 100;

function rooms(n) {
  const out = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const b = String.fromCharCode(65 + Math.floor(i / 100));
    const f = String(Math.floor((i % 100) / 10) + 1);
    const id = `${b}-${f}${String(i % 10).padStart(2, '0')}`;
    const room = { id, name: `Room ${id}`, building: `Building ${b}`, floor: f, campus: 'Main' };
    const sources = [
      { id: 'cam', kind: 'camera', label: 'Camera', probe: {}, status: 'ok', since: now },
      { id: 'mic', kind: 'microphone', label: 'Mic', probe: {}, status: 'ok', since: now },
    ];
    out.push({
      room,
      agents: [
        {
          agent: `box-${id.toLowerCase()}`,
          room,
          availability: 'online',
          since: now,
          session: 1,
          lastSeen: now,
          birth: null,
          telemetry: null,
          sources,
        },
      ],
    });
  }
  return out;
}

const eventMsg = (r, type) =>
  JSON.stringify({
    type: 'events',
    ts: Date.now(),
    data: {
      agent: r.agents[0].agent,
      room: r.room.id,
      records: [{ seq: 1, kind: 'event', source: 'mic', ts: Date.now(), type, detail: {} }],
    },
  });

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
const hub = await startHub({
  dataDir: dir,
  host: '127.0.0.1',
  httpPort: 0,
  mqttPort: 0,
  adminToken: 'bench-dashboard-token-0123',
  logLevel: 'silent',
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const list = rooms(ROOMS);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  let socket = null;
  await page.route('**/api/rooms', (route) => route.fulfill({ json: { rooms: list } }));
  await page.route('**/api/alarms?*', (route) => route.fulfill({ json: { alarms: [], nextCursor: null } }));
  // The header and the caller's role, as the hub answers them for the admin token.
  await page.route('**/api/session', (route) =>
    route.fulfill({ json: { user: { name: 'admin-token', role: 'admin', via: 'token', expiresAt: null } } }),
  );
  await page.route('**/api/overview', (route) =>
    route.fulfill({
      json: {
        ts: Date.now(),
        rooms: [],
        roomsTotal: list.length,
        roomsOnline: list.length,
        alarms: { open: 0, active: 0 },
        classes: { counted: 0, healthy: 0, share: null },
      },
    }),
  );
  await page.routeWebSocket('**/api/stream**', (ws) => {
    socket = ws;
    ws.send(JSON.stringify({ type: 'hello', ts: Date.now(), data: { version: 1 } }));
  });

  // 1. First full render.
  await page.goto(`http://127.0.0.1:${hub.httpPort}/#token=bench-dashboard-token-0123`);
  await page.waitForFunction((n) => document.querySelectorAll('#grid .tile').length === n, ROOMS, {
    timeout: 60_000,
  });
  const firstRenderMs = await page.evaluate(() => performance.now());
  while (!socket) await new Promise((r) => setTimeout(r, 20));

  // Frame-interval and long-task probes inside the page.
  await page.evaluate(() => {
    window.__frames = [];
    window.__long = 0;
    let last = performance.now();
    const loop = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (!window.__stopFrames) requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
    new PerformanceObserver((l) => {
      window.__long += l.getEntries().length;
    }).observe({ entryTypes: ['longtask'] });
  });

  // 2. Burst: one change per room, all at once.
  await page.evaluate(() => {
    window.__t0 = performance.now();
  });
  for (const r of list) socket.send(eventMsg(r, 'source.down'));
  await page.waitForFunction(
    (n) => document.querySelectorAll('#grid .tile[data-problem="down"]').length === n,
    BURST,
    { timeout: 60_000 },
  );
  const burstMs = await page.evaluate(() => performance.now() - window.__t0);

  // 3. Sustained stream: SUSTAINED_RATE messages/s for SUSTAINED_S seconds, frame intervals measured.
  await page.evaluate(() => {
    window.__frames = [];
    window.__long = 0;
  });
  const total = SUSTAINED_RATE * SUSTAINED_S;
  const startedAt = Date.now();
  for (let i = 0; i < total; i++) {
    const r = list[i % list.length];
    socket.send(eventMsg(r, i % 2 ? 'source.down' : 'source.up'));
    const due = startedAt + ((i + 1) * 1000) / SUSTAINED_RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
  await new Promise((r) => setTimeout(r, 300));
  const { frames, longTasks } = await page.evaluate(() => {
    window.__stopFrames = true;
    return { frames: window.__frames.slice(1), longTasks: window.__long };
  });

  // 4. Baseline in the same page: rebuild the whole grid per message, then force layout.
  const baselineMsPerUpdate = await page.evaluate(
    ({ rooms: data, updates }) => {
      const host = document.createElement('div');
      host.className = 'grid';
      document.querySelector('main').append(host);
      const status = new Map(data.map((r) => [r.room.id, 'ok']));
      const t0 = performance.now();
      for (let u = 0; u < updates; u++) {
        status.set(data[u % data.length].room.id, u % 2 ? 'fault' : 'ok');
        const frag = document.createDocumentFragment();
        for (const r of data) {
          const tile = document.createElement('button');
          tile.className = `tile status-${status.get(r.room.id)}`;
          const name = document.createElement('span');
          name.className = 'tile-name';
          name.textContent = r.room.name;
          tile.append(name);
          frag.append(tile);
        }
        host.replaceChildren(frag);
        void host.offsetHeight;
      }
      const ms = (performance.now() - t0) / updates;
      host.remove();
      return ms;
    },
    { rooms: list, updates: BASELINE_UPDATES },
  );

  const oursMsPerUpdate = burstMs / BURST;
  const fmt = (n) => n.toFixed(2);
  console.log(
    `Dashboard with ${ROOMS} rooms, headless Chromium (${new Date().toISOString()}). Machine shared with other engineers' builds/tests while measured.\n`,
  );
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(
    `| first render of ${ROOMS} tiles (navigation start → all tiles in DOM) | ${fmt(firstRenderMs)} ms |`,
  );
  console.log(
    `| burst of ${BURST} live changes → all tiles updated | ${fmt(burstMs)} ms (${fmt(oursMsPerUpdate)} ms per change) |`,
  );
  console.log(
    `| sustained ${SUSTAINED_RATE} msg/s for ${SUSTAINED_S} s: frame interval p50 / p95 / max | ${fmt(pct(frames, 50))} / ${fmt(pct(frames, 95))} / ${fmt(Math.max(...frames))} ms |`,
  );
  console.log(`| sustained: long tasks (> 50 ms) | ${longTasks} |`);
  console.log(`| baseline: naive full re-render per message | ${fmt(baselineMsPerUpdate)} ms per change |`);
  console.log(
    `| **ratio baseline / batched (per change)** | **${(baselineMsPerUpdate / oursMsPerUpdate).toFixed(1)}×** |`,
  );
} finally {
  await browser.close();
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
}

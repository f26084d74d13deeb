// 1,000 rooms in real headless Chromium: the dashboard files come from a real hub; the REST room list
// and the WebSocket stream are replaced with Playwright routes so a thousand rooms and a burst of a
// thousand live changes can be produced without a thousand agents. Correctness only; timings are in
// bench/hub-dashboard.bench.mjs.
import { type Browser, chromium, type Page, type WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticRooms } from './people-fixtures.js';
import { startTestHub, type TestHub } from './people-hub.js';

describe('dashboard with 1,000 rooms', () => {
  let t: TestHub;
  let browser: Browser;
  let page: Page;
  let socket: WebSocketRoute | null = null;
  const rooms = syntheticRooms(10, 10, 10);
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTestHub();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.route('**/api/rooms', (route) => route.fulfill({ json: { rooms } }));
    await page.route('**/api/alarms?*', (route) => route.fulfill({ json: { alarms: [], nextCursor: null } }));
    await page.route('**/api/session', (route) =>
      route.fulfill({
        json: { user: { name: 'admin-token', role: 'admin', via: 'token', expiresAt: null } },
      }),
    );
    await page.route('**/api/overview', (route) =>
      route.fulfill({
        json: {
          ts: Date.now(),
          rooms: [],
          roomsTotal: rooms.length,
          roomsOnline: rooms.length,
          alarms: { open: 0, active: 0 },
          classes: { counted: 0, healthy: 0, share: null },
        },
      }),
    );
    await page.routeWebSocket('**/api/stream**', (ws) => {
      socket = ws;
      ws.send(JSON.stringify({ type: 'hello', ts: Date.now(), data: { version: 1 } }));
    });
  });

  afterAll(async () => {
    expect(pageErrors).toEqual([]);
    await browser?.close();
    await t?.stop();
  });

  it('renders every room grouped by building and floor', async () => {
    await page.goto(`${t.base}/#token=scale`);
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1000, undefined, {
      timeout: 30_000,
    });
    expect(await page.locator('#grid section.building').count()).toBe(10);
    expect(await page.locator('#grid .floor').count()).toBe(100);
    expect(await page.locator('#grid .tile.status-ok').count()).toBe(1000);
  });

  it('applies a burst of 1,000 live changes and an alarm per room', async () => {
    await expect.poll(() => socket !== null).toBe(true);
    const now = Date.now();
    for (const r of rooms) {
      const agent = String(r.agents[0]!.agent);
      socket!.send(
        JSON.stringify({
          type: 'events',
          ts: now,
          data: {
            agent,
            room: r.room.id,
            records: [{ seq: 1, kind: 'event', source: 'mic', ts: now, type: 'source.down', detail: {} }],
          },
        }),
      );
    }
    await page.waitForFunction(
      () => document.querySelectorAll('#grid .tile.status-warn[data-problem="down"]').length === 1000,
      undefined,
      {
        timeout: 30_000,
      },
    );
    for (const r of rooms.slice(0, 50)) {
      socket!.send(
        JSON.stringify({
          type: 'alarm',
          ts: now,
          data: {
            to: 'active',
            alarm: {
              id: `al-${r.room.id}`,
              agent: r.agents[0]!.agent,
              room: r.room.id,
              source: 'mic',
              type: 'source.down',
              state: 'active',
              raisedAt: now,
            },
          },
        }),
      );
    }
    await page.waitForFunction(
      () => document.querySelectorAll('#grid .tile.status-alarm[data-problem="down"]').length === 50,
    );
    await page.selectOption('#f-building', 'Building C');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 100);
    await page.selectOption('#f-building', 'all');
    // Floor 1 of building J: J-101 … J-110 (floor 10 is J-1001 …, which "J-1" would also match).
    await page.fill('#f-q', 'Room J-1');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 20);
    await page.fill('#f-q', 'j-1005');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 1);
    expect(await page.textContent('#grid .tile .tile-name')).toBe('Room J-1005');
  });
});

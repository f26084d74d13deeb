// Occupancy in the dashboard, in real headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against a real in-process hub fed over real MQTT: the count on each tile, the room detail's people
// chart and the utilization heatmap with scheduled time marked, in zh-CN and English
// (docs/hub-people.md "Dashboard", "Utilization"). No console errors, no failed requests.
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

const M = 60_000;

describe('occupancy in the dashboard (Chromium)', () => {
  let t: TestHub;
  let browser: Browser;
  let page: Page;
  const boxes: FakeAgent[] = [];
  const problems: string[] = [];
  // 08:00-10:00 local of a day already past 10:00 (today, or yesterday before 11:00): U-1 has a class
  // 08:00-09:00 that met and 09:00-10:00 that nobody came to; U-2 has no class and is used at 08:00.
  const day = new Date(Date.now() - 11 * 3_600_000);
  day.setHours(0, 0, 0, 0);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const dayInput = `${day.getFullYear()}-${p2(day.getMonth() + 1)}-${p2(day.getDate())}`;
  const at = (h: number, m = 0) => day.getTime() + h * 3_600_000 + m * M;

  beforeAll(async () => {
    t = await startTestHub();
    await t.api('PUT', '/api/rooms', {
      csv: 'id,name,building,floor,campus,capacity\nU-1,报告厅 U1,理科楼,1,East,40\nU-2,Seminar U2,理科楼,2,East,20\n',
    });
    const iso = (ms: number) => new Date(ms).toISOString();
    await t.api('PUT', '/api/rooms/U-1/schedule', {
      format: 'csv',
      content: `start,end,title\n${iso(at(8))},${iso(at(9))},Physics\n${iso(at(9))},${iso(at(10))},Chemistry\n`,
    });
    for (const [agent, room] of [
      ['box-u1', 'U-1'],
      ['box-u2', 'U-2'],
    ] as const) {
      const box = new FakeAgent(t, agent, { id: room, name: room, building: 'X', floor: '0' });
      await box.connect();
      boxes.push(box);
    }
    const win = (start: number, people: number) => ({
      kind: 'capture' as const,
      source: 'cam',
      start,
      end: start + 10 * M,
      occupancy: { people, peak: people + 1, samples: 20 },
    });
    // Past windows (the heatmap), then live ones ending now (tiles and the detail chart).
    const u1 = [];
    for (let m = 0; m < 120; m += 10) u1.push(win(at(8, m), m < 60 ? 30 : 0));
    await boxes[0]!.capture(u1);
    await boxes[1]!.capture([win(at(8), 6), win(at(8, 10), 6)]);
    const now = Date.now();
    await boxes[0]!.capture([win(now - 20 * M, 25), win(now - 10 * M, 27)]);
    await boxes[1]!.capture([win(now - 10 * M, 0)]);
    await waitFor('counts ingested', async () => {
      const r = await t.api<{ rooms: Array<{ room: string; people: number | null }> }>(
        'GET',
        '/api/overview',
      );
      return r.body.rooms.some((x) => x.room === 'U-1' && x.people === 27);
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => problems.push(`pageerror ${err}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console ${m.text()}`);
    });
    page.on('requestfailed', (r) => problems.push(`requestfailed ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`http ${r.status()} ${r.url()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const b of boxes) await b.close();
    await t?.stop();
  });

  it('shows the count on each tile and a people chart in the room detail', async () => {
    await page.goto(`${t.base}/#token=${encodeURIComponent(t.token)}`);
    await page.waitForSelector('.tile[data-room="U-1"] .tile-people:not([hidden])');
    expect(await page.textContent('.tile[data-room="U-1"] .tile-people')).toBe('27 人');
    expect(await page.textContent('.tile[data-room="U-2"] .tile-people')).toBe('0 人');
    // The registry's name, not the box's.
    expect(await page.textContent('.tile[data-room="U-1"] .tile-name')).toBe('报告厅 U1');

    await page.click('.tile[data-room="U-1"]');
    await page.waitForFunction(() => document.getElementById('d-people')?.dataset.points === '2');
    expect(await page.getAttribute('#d-people', 'data-last')).toBe('27');
    expect(await page.locator('#d-people canvas').count()).toBe(1);
    await page.click('#d-close');
  });

  it('draws the utilization heatmap with scheduled time, empty classes and unbooked use, in both languages', async () => {
    await page.click('.tab[data-view="usage"]');
    await page.fill('#u-date', dayInput);
    await page.waitForSelector(`#u-table tbody tr[data-room="U-1"] td[data-start="${at(8)}"]`);
    expect(await page.inputValue('#u-building')).toBe('理科楼');
    const row = (room: string) => `#u-table tr[data-room="${room}"] td[data-start="${at(8)}"]`;
    const nine = `#u-table tr[data-room="U-1"] td[data-start="${at(9)}"]`;
    expect(await page.locator('#u-table tbody tr').count()).toBe(2);
    expect(await page.locator('#u-table thead th').count()).toBe(25); // room + 24 hours
    expect(await page.getAttribute(row('U-1'), 'class')).toBe('u-cell u-scheduled');
    expect(await page.getAttribute(row('U-1'), 'data-occupied')).toBe('60');
    expect(await page.getAttribute(nine, 'class')).toBe('u-cell u-scheduled u-empty');
    expect(await page.getAttribute(row('U-2'), 'class')).toBe('u-cell u-unbooked');
    expect(await page.textContent(row('U-1'))).toBe('30');
    expect(await page.getAttribute(nine, 'title')).toContain('有课无人 60 分');

    // A week: one column a day, today's column carries the day's scheduled time.
    await page.selectOption('#u-span', 'week');
    await page.waitForFunction(() => document.querySelectorAll('#u-table thead th').length === 8);
    const today = `#u-table tr[data-room="U-1"] td[data-start="${day.getTime()}"]`;
    expect(await page.getAttribute(today, 'data-scheduled')).toBe('120');

    await page.click('#lang');
    await page.waitForFunction(
      () => document.querySelector('.tab[data-view="usage"]')?.textContent === 'Utilization',
    );
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.getAttribute('title')?.includes('empty class 60 min') ?? false,
      today,
    );
    expect(await page.textContent('#u-table thead th')).toBe('Room');
    await page.click('.tab[data-view="rooms"]');
    await page.waitForFunction(
      () => document.querySelector('.tile[data-room="U-1"] .tile-people')?.textContent === '27 people',
    );
    expect(problems).toEqual([]);
  });
});

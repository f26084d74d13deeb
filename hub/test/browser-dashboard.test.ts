// The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; no
// browser download) against a real in-process hub with real MQTT agents.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { topics } from '@classroom/protocol';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const XSS_NAME = '<img src=x onerror="window.__xss=1">Room "&"';

describe('dashboard in headless Chromium', () => {
  let t: TestHub;
  let browser: Browser;
  let page: Page;
  const agents: FakeAgent[] = [];
  let jpeg = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // A real JPEG made at test time (no binary fixtures).
    jpeg = execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120',
      '-frames:v',
      '1',
      '-f',
      'mjpeg',
      '-',
    ]).toString('base64');
    t = await startTestHub({ CLASSROOM_HUB_ALARM_RAISE_S: '0.2', CLASSROOM_HUB_ALARM_CLEAR_S: '0.2' });
    const rooms = [
      { agent: 'box-a101', room: { id: 'A-101', name: '教学楼A 101', building: 'A', floor: '1' } },
      { agent: 'box-a201', room: { id: 'A-201', name: 'Lecture 201', building: 'A', floor: '2' } },
      { agent: 'box-b101', room: { id: 'B-101', name: XSS_NAME, building: 'B', floor: '1' } },
    ];
    for (const r of rooms) {
      const a = new FakeAgent(t, r.agent, r.room);
      await a.connect();
      agents.push(a);
    }
    // The first box answers snapshot commands with the JPEG, like a real agent.
    const first = agents[0]!;
    first.client!.on('message', (topic, payload) => {
      if (topic !== topics.cmd(first.agent)) return;
      const cmd = JSON.parse(payload.toString()) as { id: string; name: string };
      if (cmd.name !== 'snapshot') return;
      void first.publish('cmd/result', {
        v: 1,
        id: cmd.id,
        status: 'ok',
        data: { source: 'cam', contentType: 'image/jpeg', bytes: jpeg.length, jpeg },
      });
    });
    await first.event('video.black.start', 'cam');
    await waitFor('black alarm', async () => {
      const r = await t.api<{ alarms: unknown[] }>('GET', '/api/alarms?state=active');
      return r.body.alarms.length > 0;
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
  });

  afterAll(async () => {
    // Any uncaught error in the page is a bug, even if the assertions above happened to pass.
    expect(pageErrors).toEqual([]);
    await browser?.close();
    for (const a of agents) await a.close();
    await t?.stop();
  });

  it('sets a Content Security Policy on the dashboard', async () => {
    const res = await fetch(`${t.base}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${t.base}/vendor/uplot.js`)).status).toBe(200);
  });

  it('refuses a wrong token on the login form, then logs in and shows the rooms in zh-CN', async () => {
    await page.goto(`${t.base}/`);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#token', 'wrong-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('login-error')?.textContent === '令牌无效');
    await page.fill('#token', t.token);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 3);
    expect(await page.textContent('h1')).toBe('教室监控中心');
    expect(await page.isVisible('#login-form')).toBe(false);
    expect(await page.isVisible('.tile[data-room="A-101"] .tile-badge')).toBe(true);
    expect(await page.isVisible('.tile[data-room="A-201"] .tile-badge')).toBe(false);
    // The black-video alarm is in the tile's colour and words, not only in its badge.
    expect(await page.getAttribute('.tile[data-room="A-101"]', 'class')).toContain('status-alarm');
    expect(await page.textContent('.tile[data-room="A-101"] .tile-status')).toContain('黑屏');
    expect(await page.textContent('.tile[data-room="A-201"] .tile-status')).toBe('正常');
    expect(await page.textContent('#h-online')).toBe('在线 3 / 3 间');
    expect(await page.textContent('#h-alarms')).toContain('1');
    expect(await page.evaluate(() => localStorage.getItem('classroom.hub.token'))).toBe(t.token);
    await page.waitForSelector('#conn[data-state="on"]');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-rooms-zh.png'), fullPage: true });
  });

  it('renders a hostile room name as text, never as markup', async () => {
    const tile = page.locator('.tile[data-room="B-101"] .tile-name');
    expect(await tile.textContent()).toBe(XSS_NAME);
    expect(await page.locator('#grid img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it('logs in from a /#token= link, updates live and filters', async () => {
    const p2 = await browser.newPage();
    p2.on('pageerror', (err) => pageErrors.push(String(err)));
    await p2.goto(`${t.base}/#token=${encodeURIComponent(t.token)}`);
    await p2.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 3);
    expect(new URL(p2.url()).hash).toBe('');
    await p2.waitForSelector('#conn[data-state="on"]');
    await agents[1]!.event('source.down', 'mic');
    await p2.waitForSelector('.tile[data-room="A-201"][data-problem="down"]');
    await p2.check('#f-attention');
    await p2.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 2);
    const shown = await p2.$$eval('#grid .tile', (els) =>
      els.map((e) => (e as HTMLElement).dataset.room).sort(),
    );
    expect(shown).toEqual(['A-101', 'A-201']);
    await p2.selectOption('#f-building', 'B');
    await p2.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 0);
    await p2.close();
  });

  it('switches to English and acknowledges an alarm', async () => {
    await page.click('#lang');
    expect(await page.textContent('h1')).toBe('Classroom Monitoring');
    await page.click('.tab[data-view="alarms"]');
    // The mic of A-201 went down in the previous test: two alarms, one per row.
    const row = page.locator('#alarm-rows tr', { hasText: 'Black video' });
    await row.waitFor();
    expect(await row.textContent()).toContain('教学楼A 101');
    await page.waitForFunction(() => document.querySelectorAll('#alarm-rows tr').length === 2);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-alarms-en.png'), fullPage: true });
    await row.locator('button.ack').click();
    await row.filter({ hasText: 'Acknowledged by dashboard' }).waitFor();
    // The ack's answer reaches the page before the transition is stored; the list catches up.
    const acked = await waitFor('the ack stored', async () => {
      const r = await t.api<{ alarms: Array<{ ackedBy: string; type: string }> }>(
        'GET',
        '/api/alarms?state=acked',
      );
      return r.body.alarms.length > 0 ? r.body.alarms : null;
    });
    expect(acked).toMatchObject([{ ackedBy: 'dashboard', type: 'video.black' }]);
  });

  it('room detail charts read every window of the last 30 minutes, past the API page of 1,000', async () => {
    // 1,100 microphone windows: more than one page of GET /api/records, so the page must follow nextCursor.
    const a = agents[1]!;
    const now = Date.now();
    const windows = Array.from({ length: 1100 }, (_, i) => ({
      kind: 'capture' as const,
      source: 'mic',
      start: now - 28 * 60_000 + i * 1500,
      end: now - 28 * 60_000 + i * 1500 + 1500,
      audio: { rmsDb: -40, peakDb: -20, loudnessLufs: -35, silenceRatio: 0 },
    }));
    for (let i = 0; i < windows.length; i += 500) await a.capture(windows.slice(i, i + 500));
    await waitFor('1,100 windows stored', async () => {
      const r = await t.api<{ records: unknown[]; nextCursor: string | null }>(
        'GET',
        `/api/records?room=A-201&kind=capture&from=${now - 30 * 60_000}&limit=1000`,
      );
      return r.body.records.length === 1000 && r.body.nextCursor !== null;
    });
    await page.click('.tab[data-view="rooms"]');
    await page.click('.tile[data-room="A-201"]');
    await page.waitForSelector('#detail:not([hidden])');
    await page.waitForFunction(() => document.getElementById('d-audio')?.dataset.points === '1100');
    expect(await page.textContent('#d-chart-status')).toBe('');
    await page.click('#d-close');
  });

  it('opens a room: sources, live charts, telemetry and a snapshot on request', async () => {
    // A class in 5 minutes: importing it runs the pre-class check at once, which fails (black camera).
    const start = Date.now() + 5 * 60_000;
    const sameDay = new Date(start).getDate() === new Date().getDate();
    const csv = `start,end,title\n${new Date(start).toISOString()},${new Date(start + 45 * 60_000).toISOString()},Physics\n`;
    expect((await t.api('PUT', '/api/rooms/A-101/schedule', { format: 'csv', content: csv })).status).toBe(
      200,
    );
    await page.click('.tab[data-view="rooms"]');
    await page.click('.tile[data-room="A-101"]');
    await page.waitForSelector('#detail:not([hidden])');
    expect(await page.textContent('#d-name')).toBe('教学楼A 101');
    expect(await page.locator('#d-sources li').count()).toBe(2);
    expect(await page.textContent('#d-sources')).toContain('Black');
    if (sameDay) {
      await page.waitForFunction(() =>
        document.getElementById('d-schedule')?.textContent?.includes('Pre-class check failed'),
      );
      expect(await page.textContent('#d-schedule')).toContain('Physics');
      expect(await page.textContent('#d-schedule')).toContain('camera cam is black');
    }
    const a = agents[0]!;
    await a.publish('telemetry', {
      v: 1,
      session: 1,
      ts: Date.now(),
      cpuLoad: 0.42,
      memUsedBytes: 2 * 1024 ** 3,
      memTotalBytes: 4 * 1024 ** 3,
      diskFreeBytes: 50 * 1024 ** 3,
      diskTotalBytes: 100 * 1024 ** 3,
      temperatureC: 51.5,
      uptimeS: 3600,
      clockOffsetMs: 3,
      outboxPending: 0,
    });
    await page.waitForFunction(() => document.getElementById('d-telemetry')?.textContent?.includes('42%'));
    const now = Date.now();
    const windows = Array.from({ length: 6 }, (_, i) => ({
      kind: 'capture' as const,
      source: 'mic',
      start: now - (6 - i) * 10_000,
      end: now - (5 - i) * 10_000,
      audio: { rmsDb: -40 + i * 3, peakDb: -20 + i, loudnessLufs: -35, silenceRatio: 0 },
    }));
    await a.capture(windows);
    await page.waitForSelector('#d-audio canvas');
    await page.selectOption('#d-cam', 'cam');
    await page.click('#d-snap');
    await page.waitForFunction(
      () => {
        const img = document.getElementById('d-img') as HTMLImageElement | null;
        return img && !img.hidden && img.complete && img.naturalWidth === 160;
      },
      undefined,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-room-detail.png'), fullPage: false });
    await page.click('#d-close');
    await page.waitForSelector('#detail', { state: 'hidden' });
  });
});

// /api/docs in real headless Chromium: Swagger UI from the hub's own files renders every operation of
// /api/openapi.json under the dashboard's Content Security Policy, with no failed request and no
// console error (a CSP violation is one), and "Try it out" works with the admin token.
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSP } from '../src/dashboard/module.js';
import { startTestHub, type TestHub } from './people-hub.js';

describe('/api/docs in headless Chromium', () => {
  let t: TestHub;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const foreign: string[] = [];

  beforeAll(async () => {
    t = await startTestHub();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${String(err)}`));
    page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(t.base) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('renders every operation under the dashboard CSP, from local assets only', async () => {
    const res = await page.goto(`${t.base}/api/docs/`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toBe(CSP);
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    const doc = (await (await fetch(`${t.base}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const expected = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(expected.length).toBeGreaterThan(20);
    const shown = await page.$$eval('.opblock', (els) =>
      els.map(
        (e) =>
          `${e.querySelector('.opblock-summary-method')?.textContent?.trim()} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''}`,
      ),
    );
    expect(new Set(shown)).toEqual(new Set(expected));
    expect(await page.locator('.title').first().textContent()).toContain('Classroom hub API');
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('tries GET /api/rooms with the admin token from the page', async () => {
    await page.locator('button.authorize').first().click();
    const dialog = page.locator('.dialog-ux');
    await dialog.locator('input').first().fill(t.token);
    await dialog.locator('button.authorize').first().click();
    await dialog.locator('button.close-modal').click();
    const op = page
      .locator('#operations-default-get_api_rooms, .opblock-get:has([data-path="/api/rooms"])')
      .first();
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    const answer = page.waitForResponse((r) => r.url() === `${t.base}/api/rooms`);
    await op.locator('button.execute').click();
    expect((await answer).status()).toBe(200);
    await op.locator('.responses-wrapper .live-responses-table').waitFor();
    expect(
      await op.locator('.live-responses-table tbody .response-col_status').first().textContent(),
    ).toContain('200');
    expect(problems).toEqual([]);
  });
});

// Staff login and the audit page in real headless Chromium against a real in-process hub: the login
// form opens a session (HttpOnly, SameSite=Strict, expiring cookie), logout ends it on the hub, the
// audit page lists who did what in zh-CN and English, and the admin token link still works.
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, waitFor } from './people-hub.js';

describe('staff login and audit page in headless Chromium', () => {
  let t: TestHub;
  let browser: Browser;
  const pw: Record<string, string> = {};

  /** A fresh browser context whose page records every console error, page error and failed request. */
  async function open(): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // A refused request is reported below with its URL (Chromium's console line has none).
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${String(err)}`));
    page.on('response', (r) => {
      // Chromium asks for /favicon.ico on its own; the dashboard has none.
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
        problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    return { ctx, page, problems };
  }

  async function loginAs(page: Page, name: string, password: string): Promise<void> {
    await page.goto(t.base);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#login-name', name);
    await page.fill('#login-password', password);
    await page.click('#login-form button[type=submit]');
  }

  beforeAll(async () => {
    t = await startTestHub();
    for (const [name, role] of [
      ['admin-1', 'admin'],
      ['duty-1', 'operator'],
    ]) {
      const r = await t.api<{ password: string }>('POST', '/api/users', { name, role });
      expect(r.status).toBe(201);
      pw[name] = r.body.password;
    }
    expect((await t.api('POST', '/api/agents', { agent: 'box-1', room: 'A-101' })).status).toBe(201);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('an operator logs in with name and password; the session cookie is HttpOnly, strict and expiring', async () => {
    const { ctx, page, problems } = await open();
    await loginAs(page, 'duty-1', 'wrong-password');
    await page.waitForFunction(
      () => document.getElementById('login-error')?.textContent === '用户名或密码错误',
    );
    expect(problems.filter((p) => !p.includes('/api/session'))).toEqual([]);
    problems.length = 0;
    await page.fill('#login-name', 'duty-1');
    await page.fill('#login-password', pw['duty-1'] ?? '');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#view-rooms', { state: 'visible' });
    expect(await page.textContent('#whoami')).toBe('duty-1 (operator)');
    expect(await page.isVisible('#audit-link')).toBe(false);
    const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'classroom_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + 3600);
    expect(await page.evaluate(() => document.cookie)).not.toContain('classroom_session');
    expect(await page.evaluate(() => localStorage.getItem('classroom.hub.token'))).toBeNull();
    // The live stream rides on the same cookie.
    await page.waitForFunction(() => document.getElementById('conn')?.dataset.state === 'on');
    // What the operator does is audited under their name.
    const sent = await page.evaluate(async () => {
      const r = await fetch('/api/agents/box-1/commands', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'snapshot', args: { source: 'cam' } }),
      });
      return r.status;
    });
    expect(sent).toBe(202);
    // The audit page is for admins: the hub refuses it.
    await page.goto(`${t.base}/audit.html`);
    await page.waitForFunction(
      () => document.getElementById('audit-error')?.textContent === '只有管理员可以查看审计日志',
    );
    expect(problems.every((p) => p.includes('/api/audit'))).toBe(true);
    await ctx.close();
  });

  it('an admin reads the audit log in zh-CN and English, filters it, then logs out for good', async () => {
    const { ctx, page, problems } = await open();
    await loginAs(page, 'admin-1', pw['admin-1'] ?? '');
    await page.waitForSelector('#view-rooms', { state: 'visible' });
    await page.click('#audit-link');
    await page.waitForSelector('#audit-rows tr');
    expect(await page.textContent('h1')).toBe('审计日志');
    const rows = async () =>
      page.$$eval('#audit-rows tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const zh = await rows();
    const snap = zh.find((r) => r[1] === 'duty-1' && r[3] === '抓拍画面');
    expect(snap).toBeDefined();
    expect(snap?.[4]).toBe('box-1');
    expect(snap?.[6]).toBe('127.0.0.1');
    expect(zh.some((r) => r[1] === 'admin-token' && r[3] === '添加用户' && r[4] === 'duty-1')).toBe(true);
    expect(zh.some((r) => r[1] === 'duty-1' && r[3] === '登录失败')).toBe(true);

    await page.fill('#a-user', 'duty-1');
    await page.selectOption('#a-action', 'snapshot.take');
    await page.click('#audit-filters button[type=submit]');
    await waitFor('filtered rows', async () => (await rows()).length === 1);
    expect((await rows())[0]?.[5]).toContain('"name":"snapshot"');

    await page.click('#lang');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Audit log');
    await waitFor('English rows', async () => (await rows())[0]?.[3] === 'Snapshot taken');
    expect(await page.textContent('#audit-table th')).toBe('Time');
    expect(problems).toEqual([]);

    // Logout ends the session on the hub: the old cookie no longer opens anything.
    const [before] = (await ctx.cookies()).filter((c) => c.name === 'classroom_session');
    await page.goto(t.base);
    await page.waitForSelector('#logout', { state: 'visible' });
    await page.click('#logout');
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.reload();
    await page.waitForSelector('#login-form', { state: 'visible' });
    const replay = await fetch(`${t.base}/api/rooms`, {
      headers: { cookie: `classroom_session=${before?.value}` },
    });
    expect(replay.status).toBe(401);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('still logs in from the demo’s /#token= link', async () => {
    const { ctx, page, problems } = await open();
    await page.goto(`${t.base}/#token=${encodeURIComponent(t.token)}`);
    await page.waitForSelector('#view-rooms', { state: 'visible' });
    expect(await page.textContent('#whoami')).toBe('admin-token (admin)');
    expect(await page.isVisible('#audit-link')).toBe(true);
    expect(problems).toEqual([]);
    await ctx.close();
  });
});

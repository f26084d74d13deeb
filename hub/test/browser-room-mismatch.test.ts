// Staff see a box that reports another room than provisioned: the agent.room_mismatch alarm in the
// dashboard's alarm list, in real headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against a real in-process hub with a real MQTT agent (docs/hub-identity.md).
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

describe('room mismatch on the dashboard', () => {
  let t: TestHub;
  let browser: Browser;
  let agent: FakeAgent;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTestHub();
    agent = new FakeAgent(t, 'box-mm', { id: 'C-301', name: 'Room C 301', building: 'C', floor: '3' });
    await agent.connect();
    // The box's own config names another room than it was provisioned with.
    await agent.publish('birth', {
      v: 1,
      session: 1,
      ts: Date.now(),
      agentVersion: '0.1.0',
      room: { id: 'D-999', name: 'Somewhere else', building: 'D', floor: '9', campus: 'Main' },
      sources: [],
      configVersion: 0,
      telemetryIntervalS: 30,
    });
    await waitFor('mismatch alarm', async () => {
      const r = await t.api<{ alarms: Array<{ type: string }> }>('GET', '/api/alarms?state=active');
      return r.body.alarms.some((a) => a.type === 'agent.room_mismatch');
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    expect(pageErrors).toEqual([]);
    await browser?.close();
    await agent?.close();
    await t?.stop();
  });

  it('lists the alarm under the provisioned room, in zh-CN and English', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.goto(`${t.base}/#token=${encodeURIComponent(t.token)}`);
    await page.click('.tab[data-view="alarms"]');
    const row = page.locator('#alarm-rows tr', { hasText: '终端上报的教室与登记不符' });
    await row.waitFor();
    expect(await row.textContent()).toContain('C-301');
    expect(await row.textContent()).not.toContain('D-999');
    await page.click('#lang');
    await page.locator('#alarm-rows tr', { hasText: 'Box reports another room than provisioned' }).waitFor();
    await page.close();
  });
});

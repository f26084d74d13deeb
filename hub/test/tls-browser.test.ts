// The dashboard over HTTPS with its live stream over WSS, in Debian's Chromium (playwright-core, no
// browser download), against the real bin with TLS. Chromium trusts the test certificate only through
// --ignore-certificate-errors-spki-list, a pin of that certificate's public key; a browser without the
// pin must refuse the page, which shows that it verifies for real.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birth, TOKEN, tempDir } from './core-helpers.js';
import { BIN, run, spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

/** base64(SHA-256(SubjectPublicKeyInfo)): Chromium's pin format. */
async function spkiPin(certFile: string): Promise<string> {
  const { stdout: pub } = await run('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']);
  const { createHash, createPublicKey } = await import('node:crypto');
  const der = createPublicKey(pub).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

describe('dashboard over HTTPS and WSS in Chromium (real process)', () => {
  const t = tempDir('hub-tls-browser-');
  const pki = join(t.dir, 'pki');
  const data = join(t.dir, 'data');
  let ca: TestCa;
  let hub: TlsHub;
  let box: MqttClient;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    await run('mkdir', ['-p', pki, data]);
    ca = await TestCa.create(pki, 'campus');
    const server = await ca.issue('hub', 'IP:127.0.0.1');
    const { stdout } = await run(process.execPath, [
      BIN,
      'agents',
      'add',
      '--agent',
      'box-w',
      '--room',
      'W-101',
      '--data-dir',
      data,
    ]);
    const password = (JSON.parse(stdout) as { password: string }).password;
    hub = await spawnTlsHub(data, ['--tls-cert', server.cert, '--tls-key', server.key, '--mqtts-port', '0']);
    base = `https://127.0.0.1:${hub.listening.httpPort}`;
    box = mqtt.connect(`mqtts://127.0.0.1:${hub.listening.mqttsPort}`, {
      username: 'box-w',
      password,
      clientId: 'box-w',
      ca: readFileSync(ca.cert),
      reconnectPeriod: 0,
      connectTimeout: 15_000,
    });
    await new Promise<void>((resolve, reject) => {
      box.once('connect', () => resolve());
      box.once('error', reject);
    });
    await box.publishAsync(
      'classroom/v1/box-w/state',
      JSON.stringify({ v: 1, state: 'online', session: 1, ts: Date.now() }),
      {
        qos: 1,
        retain: true,
      },
    );
    await box.publishAsync('classroom/v1/box-w/birth', JSON.stringify(birth('box-w', 'W-101')), { qos: 1 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [...ARGS, `--ignore-certificate-errors-spki-list=${await spkiPin(server.cert)}`],
    });
  });

  afterAll(async () => {
    await browser?.close();
    box?.end(true);
    await hub?.kill9();
    t.remove();
  });

  it('loads over HTTPS, connects the live stream over WSS and shows a change sent over MQTTS', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const wsUrls: string[] = [];
    page.on('websocket', (ws) => wsUrls.push(ws.url()));
    await page.goto(`${base}/#token=${encodeURIComponent(TOKEN)}`);
    await page.waitForSelector('.tile[data-room="W-101"]', { timeout: 30_000 });
    await page.waitForSelector('#conn[data-state="on"]', { timeout: 30_000 });
    expect(wsUrls.some((u) => u.startsWith(`wss://127.0.0.1:${hub.listening.httpPort}/api/stream`))).toBe(
      true,
    );
    await box.publishAsync(
      'classroom/v1/box-w/records',
      JSON.stringify({
        v: 1,
        session: 1,
        records: [{ seq: 1, kind: 'event', source: 'mic', ts: Date.now(), type: 'source.down', detail: {} }],
      }),
      { qos: 1 },
    );
    await page.waitForSelector('.tile[data-room="W-101"][data-problem="down"]', { timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a Chromium without the pin refuses the certificate', async () => {
    const strict = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
    try {
      const page = await strict.newPage();
      const err = await page.goto(`${base}/`).then(
        () => null,
        (e: Error) => e,
      );
      expect(String(err)).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await strict.close();
    }
  });
});

// `--broker mqtts://…` with `--broker-ca` (docs/hub.md "TLS"): the hub verifies a Debian mosquitto's TLS
// listener against a private CA made at test time, refuses it without that CA, and serves its own
// HTTPS with --tls-cert while MQTT over TLS is the external broker's job.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub } from '../src/app.js';
import { TOKEN, tempDir, waitFor } from './core-helpers.js';
import { run, sClient, TestCa } from './tls-helpers.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

describe('external broker over TLS (Debian mosquitto)', () => {
  const t = tempDir('hub-tls-ext-');
  const pki = join(t.dir, 'pki');
  let ca: TestCa;
  let other: TestCa;
  let mosquitto: ChildProcess;
  let port: number;
  let hubCert: { cert: string; key: string };

  beforeAll(async () => {
    mkdirSync(pki);
    ca = await TestCa.create(pki, 'campus');
    other = await TestCa.create(pki, 'stranger');
    const broker = await ca.issue('mosquitto', 'IP:127.0.0.1');
    hubCert = await ca.issue('hub', 'IP:127.0.0.1');
    port = await freePort();
    const conf = join(t.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\ncertfile ${broker.cert}\nkeyfile ${broker.key}\nallow_anonymous true\npersistence false\n${process.getuid?.() === 0 ? 'user root\n' : ''}`,
    );
    mosquitto = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore', detached: true });
    await waitFor(
      'mosquitto TLS listener',
      async () => (await sClient(port, ca.cert)).verify === '0 (ok)',
      30_000,
      200,
    );
  });

  afterAll(() => {
    if (mosquitto?.pid && mosquitto.exitCode === null) process.kill(-mosquitto.pid, 'SIGKILL');
    t.remove();
  });

  it('connects with --broker-ca, publishes hub/state over TLS, and serves HTTPS itself', async () => {
    const data = join(t.dir, 'hub');
    const hub = await startHub({
      dataDir: data,
      httpPort: 0,
      adminToken: TOKEN,
      broker: `mqtts://127.0.0.1:${port}`,
      brokerCa: ca.cert,
      tls: { certFile: hubCert.cert, keyFile: hubCert.key },
      logLevel: process.env.TEST_LOG ?? 'silent',
    });
    try {
      expect(hub.tls).toBe(true);
      expect(hub.mqttsPort).toBeNull();
      const { stdout } = await run('mosquitto_sub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '--cafile',
        ca.cert,
        '-t',
        'classroom/v1/hub/state',
        '-C',
        '1',
        '-W',
        '20',
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ online: true });
      const health = await run('curl', [
        '-sS',
        '--max-time',
        '20',
        '--cacert',
        ca.cert,
        `https://127.0.0.1:${hub.httpPort}/api/health`,
      ]);
      expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok' });
    } finally {
      await hub.stop();
    }
  });

  it('refuses the broker with another CA, naming the verification failure', async () => {
    const err = await startHub({
      dataDir: join(t.dir, 'hub-wrong'),
      httpPort: 0,
      adminToken: TOKEN,
      broker: `mqtts://127.0.0.1:${port}`,
      brokerCa: other.cert,
      logLevel: process.env.TEST_LOG ?? 'silent',
    }).then(
      async (h) => {
        await h.stop();
        return null;
      },
      (e: Error) => e,
    );
    expect(String(err)).toMatch(
      /cannot connect to broker mqtts:\/\/127\.0\.0\.1:\d+\/?: .*(certificate|issuer)/,
    );
  });
});

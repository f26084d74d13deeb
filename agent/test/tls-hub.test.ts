// The agent against the real hub bin over MQTTS (docs/agent.md "TLS to the hub"): it verifies the hub's
// certificate against broker.ca, refuses a certificate of another CA and one for another host name with
// a brokerError that says which, keeps its records in the outbox meanwhile, and delivers them all once
// the hub serves the right certificate (swapped in with SIGHUP, so the hub never restarts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueExpired, run, spawnTlsHub, TestCa, type TlsHub } from '../../hub/test/tls-helpers.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { waitFor } from './helpers/broker.js';
import { addAgent, HUB_BIN } from './helpers/procs.js';

const TOKEN = 'core-test-admin-token'; // spawnTlsHub's admin token

async function storedRecords(hub: TlsHub, ca: string, agent: string, host = '127.0.0.1'): Promise<number> {
  const port = hub.listening.httpPort;
  const { stdout } = await run('curl', [
    '-sS',
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    '--max-time',
    '20',
    '--cacert',
    ca,
    '-H',
    `Authorization: Bearer ${TOKEN}`,
    `https://${host}:${port}/api/records?agent=${agent}&limit=1000`,
  ]);
  return (JSON.parse(stdout) as { records: unknown[] }).records.length;
}

describe('agent → hub over TLS, verified against broker.ca (real hub process)', () => {
  const dir = tempDir('agent-tls-hub-');
  const pki = join(dir, 'pki');
  const hubData = join(dir, 'hub');
  let campus: TestCa;
  let stranger: TestCa;
  let hub: TlsHub;
  let password: string;

  beforeAll(async () => {
    mkdirSync(pki);
    mkdirSync(hubData);
    campus = await TestCa.create(pki, 'campus');
    stranger = await TestCa.create(pki, 'stranger');
    // The hub first serves a certificate that the box's CA did not sign.
    await stranger.issue('hub', 'IP:127.0.0.1');
    password = await addAgent(hubData, 'box-1', 'A101');
    hub = await spawnTlsHub(hubData, [
      '--tls-cert',
      join(pki, 'hub.pem'),
      '--tls-key',
      join(pki, 'hub.key'),
      '--mqtts-port',
      '0',
    ]);
  });

  afterAll(async () => {
    await hub?.kill9();
    removeDir(dir);
  });

  it('refuses a wrong CA, then a wrong host name, keeping its records; delivers them with the right certificate', async () => {
    const data = join(dir, 'agent');
    const url = `mqtts://127.0.0.1:${hub.listening.mqttsPort}`;
    const a = testAgent(
      testConfig(data, url, {
        broker: { url, username: 'box-1', password, ca: campus.cert, keepaliveS: 2 },
      }),
    );
    await a.app.start();
    try {
      a.monitors.get('cam')?.emitWindows(30);

      const wrongCa = await waitFor(() => a.app.status().brokerError, 'a TLS error for the wrong CA', 30_000);
      expect(wrongCa).toContain(`not signed by a CA in broker.ca (${campus.cert})`);
      expect(wrongCa).toMatch(/refusing to send credentials/);
      expect(a.app.status().connected).toBe(false);
      await waitFor(() => a.app.status().outbox.records === 30, 'the 30 records in the outbox', 30_000);

      // The right CA, but a certificate for another name: refused for that reason.
      await campus.issue('hub', 'DNS:hub.campus.example');
      let mark = hub.output().length;
      hub.signal('SIGHUP');
      await hub.waitLog('"event":"hub.tls_reloaded"', mark);
      const wrongName = await waitFor(
        () => {
          const e = a.app.status().brokerError;
          return e?.includes('ERR_TLS_CERT_ALTNAME_INVALID') ? e : null;
        },
        'a host name error',
        30_000,
      );
      expect(wrongName).toContain(`does not name "127.0.0.1" (the host of broker.url)`);
      expect(wrongName).toContain('hub.campus.example');
      expect(a.app.status().connected).toBe(false);
      a.monitors.get('cam')?.emitWindows(10);
      await waitFor(() => a.app.status().outbox.records === 40, 'all 40 records still in the outbox', 30_000);
      // A client that asks for the name on the certificate gets through: the hub itself is fine.
      expect(await storedRecords(hub, campus.cert, 'box-1', 'hub.campus.example')).toBe(0);

      // The right certificate: the box connects and its outbox drains into the hub.
      await campus.issue('hub', 'IP:127.0.0.1');
      mark = hub.output().length;
      hub.signal('SIGHUP');
      await hub.waitLog('"event":"hub.tls_reloaded"', mark);
      await waitFor(() => a.app.status().connected, 'connected over TLS', 30_000);
      expect(a.app.status().brokerError).toBeNull();
      await waitFor(() => a.app.status().outbox.records === 0, 'outbox drained', 30_000);
      expect(await storedRecords(hub, campus.cert, 'box-1')).toBe(40);
    } finally {
      await a.app.stop();
    }
  });

  it('logs in with a client certificate from `agents add --cert` and no password (broker.cert/broker.key)', async () => {
    // The hub serves the campus certificate for 127.0.0.1 since the previous test.
    const certs = join(dir, 'certs');
    mkdirSync(certs);
    const { stdout } = await run(process.execPath, [
      HUB_BIN,
      'agents',
      'add',
      '--agent',
      'box-2',
      '--room',
      'A102',
      '--cert',
      '--cert-dir',
      certs,
      '--data-dir',
      hubData,
    ]);
    const issued = JSON.parse(stdout) as { certFile: string; keyFile: string };
    const data = join(dir, 'agent-cert');
    const url = `mqtts://127.0.0.1:${hub.listening.mqttsPort}`;
    const a = testAgent(
      testConfig(data, url, {
        agent: 'box-2',
        room: { id: 'A102' },
        broker: { url, ca: campus.cert, cert: issued.certFile, key: issued.keyFile, keepaliveS: 2 },
      }),
    );
    await a.app.start();
    try {
      a.monitors.get('cam')?.emitWindows(5);
      // The outbox counts a record once its group commit lands: until then an empty outbox means nothing
      // was appended yet, not that all was delivered, so wait for the five to be committed first.
      await waitFor(() => a.app.status().outbox.lastSeq === 5, 'the 5 records committed', 30_000);
      await waitFor(() => a.app.status().connected, 'connected with a client certificate', 30_000);
      await waitFor(() => a.app.status().outbox.records === 0, 'outbox drained', 30_000);
      expect(await storedRecords(hub, campus.cert, 'box-2')).toBe(5);
    } finally {
      await a.app.stop();
    }
  });

  it('refuses an expired hub certificate, and the hub says it has expired', async () => {
    await issueExpired(campus, 'hub', 'IP:127.0.0.1');
    const mark = hub.output().length;
    hub.signal('SIGHUP');
    await hub.waitLog('"event":"hub.tls_reloaded"', mark);
    expect(await hub.waitLog('"event":"hub.tls_certificate_expired"', mark)).toContain(
      'clients will refuse it',
    );
    const data = join(dir, 'agent-expired');
    const url = `mqtts://127.0.0.1:${hub.listening.mqttsPort}`;
    const a = testAgent(
      testConfig(data, url, { broker: { url, username: 'box-1', password, ca: campus.cert, keepaliveS: 2 } }),
    );
    await a.app.start();
    try {
      const err = await waitFor(() => a.app.status().brokerError, 'an expiry error', 30_000);
      expect(err).toContain("TLS: the hub's certificate has expired (or this box's clock is wrong)");
      expect(err).toContain('CERT_HAS_EXPIRED');
      expect(a.app.status().connected).toBe(false);
    } finally {
      await a.app.stop();
    }
  });

  it('a broker.ca that has gone is a brokerError naming the file, never a fallback to the system CAs', async () => {
    const data = join(dir, 'agent-noca');
    const url = `mqtts://127.0.0.1:${hub.listening.mqttsPort}`;
    const ca = join(pki, 'gone.pem');
    const a = testAgent(
      testConfig(data, url, { broker: { url, username: 'box-1', password, ca, keepaliveS: 2 } }),
    );
    await a.app.start();
    try {
      const err = await waitFor(() => a.app.status().brokerError, 'a CA file error', 30_000);
      expect(err).toContain(`broker.ca ${ca}: cannot read the CA bundle`);
      expect(a.app.status().connected).toBe(false);
    } finally {
      await a.app.stop();
    }
  });
});

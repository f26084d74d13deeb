// Box login by client certificate on MQTTS (docs/hub.md "Client certificates"), against the real bin:
// the hub's client CA, `agents add --cert` / `agents cert`, mosquitto and MQTT.js logging in with a
// certificate and no password, and the refusals (foreign CA, CN ≠ username, a replaced certificate).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, range, TOKEN, tempDir, waitFor } from './core-helpers.js';
import { BIN, run, sClient, spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

interface Provisioned {
  agent: string;
  password: string;
  certFile: string;
  keyFile: string;
  serial: string;
  notAfter: string;
}

async function hubCli(args: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, [BIN, ...args]);
  return JSON.parse(stdout) as Record<string, string>;
}

/** mosquitto_sub for the retained hub/state; resolves with its output or the failure's stderr. */
async function mosquittoState(
  port: number,
  ca: string,
  extra: string[],
): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '--cafile',
      ca,
      '-t',
      'classroom/v1/hub/state',
      '-C',
      '1',
      '-W',
      '20',
      ...extra,
    ]);
    return { ok: true, out: r.stdout };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('client certificates: CN = agent id (real process)', () => {
  const t = tempDir('hub-tls-client-');
  const pki = join(t.dir, 'pki');
  const data = join(t.dir, 'data');
  let ca: TestCa;
  let hub: TlsHub;
  let port: number;
  let box: Provisioned;

  beforeAll(async () => {
    await run('mkdir', ['-p', pki, data, join(t.dir, 'certs'), join(t.dir, 'certs2')]);
    ca = await TestCa.create(pki, 'campus');
    const server = await ca.issue('hub', 'IP:127.0.0.1');
    hub = await spawnTlsHub(data, ['--tls-cert', server.cert, '--tls-key', server.key, '--mqtts-port', '0']);
    port = hub.listening.mqttsPort ?? 0;
    box = (await hubCli([
      'agents',
      'add',
      '--agent',
      'box-c',
      '--room',
      'C1',
      '--cert',
      '--cert-dir',
      join(t.dir, 'certs'),
      '--data-dir',
      data,
    ])) as unknown as Provisioned;
  });

  afterAll(async () => {
    await hub?.kill9();
    t.remove();
  });

  it('creates the client CA on the first start with TLS, private to the hub user, and advertises it', async () => {
    expect(hub.output()).toContain('client certificate CA created');
    expect(statSync(join(data, 'client-ca')).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, 'client-ca', 'ca.key')).mode & 0o777).toBe(0o600);
    const s = await sClient(port, ca.cert);
    expect(s.output).toMatch(
      /Acceptable client certificate CA names\s*\n\s*CN\s*=\s*classroom hub client CA/,
    );
  });

  it('agents add --cert writes a certificate for CN=<agent> from the client CA, key 0600', async () => {
    expect(box).toMatchObject({ agent: 'box-c', certFile: join(t.dir, 'certs', 'box-c.pem') });
    expect(box.password.length).toBeGreaterThan(20);
    expect(statSync(box.keyFile).mode & 0o777).toBe(0o600);
    const { stdout } = await run('openssl', [
      'x509',
      '-in',
      box.certFile,
      '-noout',
      '-subject',
      '-serial',
      '-ext',
      'extendedKeyUsage',
    ]);
    expect(stdout).toMatch(/subject=CN ?= ?box-c/);
    expect(stdout).toContain(`serial=${box.serial}`);
    expect(stdout).toContain('TLS Web Client Authentication');
    const verify = await run('openssl', [
      'verify',
      '-CAfile',
      join(data, 'client-ca', 'ca.pem'),
      box.certFile,
    ]);
    expect(verify.stdout).toContain(': OK');
  });

  it('mosquitto_sub and MQTT.js log in with the certificate and no password', async () => {
    const mosq = await mosquittoState(port, ca.cert, [
      '--cert',
      box.certFile,
      '--key',
      box.keyFile,
      '-i',
      'box-c',
    ]);
    expect(mosq.ok, mosq.out).toBe(true);
    expect(JSON.parse(mosq.out)).toMatchObject({ online: true });

    const { readFileSync } = await import('node:fs');
    const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
      clientId: 'box-c',
      ca: readFileSync(ca.cert),
      cert: readFileSync(box.certFile),
      key: readFileSync(box.keyFile),
      reconnectPeriod: 0,
      connectTimeout: 15_000,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const acked = new Set<number>();
      client.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
        for (const [a, b] of m.ranges) for (let s = a; s <= b; s++) acked.add(s);
      });
      await client.subscribeAsync('classroom/v1/box-c/ack', { qos: 1 });
      await client.publishAsync('classroom/v1/box-c/records', batch(range(1, 10)), { qos: 1 });
      await waitFor('ack of the records sent with a certificate login', () => acked.size === 10);
    } finally {
      client.end(true);
    }
    // The password still works on the same listener.
    const pw = await mosquittoState(port, ca.cert, ['-u', 'box-c', '-P', box.password, '-i', 'box-c']);
    expect(pw.ok, pw.out).toBe(true);
  });

  it('refuses a certificate of another CA, a CN that is not the username, and a replaced certificate', async () => {
    // CN=box-c, but signed by the campus server CA, not the hub's client CA.
    const forged = await ca.issue('forged', 'DNS:box-c', 'box-c');
    const foreign = await mosquittoState(port, ca.cert, [
      '--cert',
      forged.cert,
      '--key',
      forged.key,
      '-i',
      'box-c',
    ]);
    expect(foreign.ok).toBe(false);
    expect(foreign.out).toMatch(/not authori[sz]ed|bad user name or password|refused/i);

    const other = await mosquittoState(port, ca.cert, [
      '--cert',
      box.certFile,
      '--key',
      box.keyFile,
      '-u',
      'box-d',
      '-i',
      'box-d',
    ]);
    expect(other.ok).toBe(false);

    const again = (await hubCli([
      'agents',
      'cert',
      '--agent',
      'box-c',
      '--cert-dir',
      join(t.dir, 'certs2'),
      '--data-dir',
      data,
    ])) as unknown as Provisioned;
    expect(again.serial).not.toBe(box.serial);
    const old = await mosquittoState(port, ca.cert, [
      '--cert',
      box.certFile,
      '--key',
      box.keyFile,
      '-i',
      'box-c',
    ]);
    expect(old.ok).toBe(false);
    const renewed = await mosquittoState(port, ca.cert, [
      '--cert',
      again.certFile,
      '--key',
      again.keyFile,
      '-i',
      'box-c',
    ]);
    expect(renewed.ok, renewed.out).toBe(true);

    // `agents disable` refuses the certificate as it refuses the password; `enable` lets it in again.
    await run(process.execPath, [BIN, 'agents', 'disable', '--agent', 'box-c', '--data-dir', data]);
    const disabled = await mosquittoState(port, ca.cert, [
      '--cert',
      again.certFile,
      '--key',
      again.keyFile,
      '-i',
      'box-c',
    ]);
    expect(disabled.ok).toBe(false);
    await run(process.execPath, [BIN, 'agents', 'enable', '--agent', 'box-c', '--data-dir', data]);
    const enabled = await mosquittoState(port, ca.cert, [
      '--cert',
      again.certFile,
      '--key',
      again.keyFile,
      '-i',
      'box-c',
    ]);
    expect(enabled.ok, enabled.out).toBe(true);

    expect(hub.output()).toContain('client certificate not trusted');
    expect(hub.output()).toContain("username is not the client certificate's CN");
    expect(hub.output()).toContain('client certificate replaced or agent unknown');
    expect(hub.output()).toContain('connection refused: account disabled');
    const { stdout } = await run('curl', [
      '-sS',
      '--cacert',
      ca.cert,
      '-H',
      `Authorization: Bearer ${TOKEN}`,
      `https://127.0.0.1:${hub.listening.httpPort}/metrics`,
    ]);
    const refused = stdout
      .split('\n')
      .find((l) => l.startsWith('classroom_hub_auth_refused_total{reason="bad_certificate"}'));
    expect(Number(refused?.split(' ').pop())).toBe(3);
  });

  it('agents cert refuses an unknown agent with exit code 2', async () => {
    const r = await run(process.execPath, [
      BIN,
      'agents',
      'cert',
      '--agent',
      'nobody',
      '--data-dir',
      data,
      '--cert-dir',
      join(t.dir, 'certs'),
    ]).then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(r?.code).toBe(2);
    expect(r?.stderr).toContain('unknown agent "nobody"');
    // Nothing is written for an unknown agent.
    expect(existsSync(join(t.dir, 'certs', 'nobody.key'))).toBe(false);
  });
});

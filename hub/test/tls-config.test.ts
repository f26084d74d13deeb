// resolveConfig's TLS rules (docs/hub.md "TLS"): the plain listener's default, and which flags go together.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../src/config.js';
import { loadTlsCredentials } from '../src/tls/credentials.js';
import { tempDir } from './core-helpers.js';
import { run, TestCa } from './tls-helpers.js';

describe('TLS configuration', () => {
  const t = tempDir('hub-tls-cfg-');
  afterAll(() => t.remove());
  const base = { dataDir: t.dir, adminToken: 'x'.repeat(20) };
  const tls = { certFile: 'hub.pem', keyFile: 'hub.key' };

  it('runs plain MQTT on 1883 without TLS, and none with TLS unless the port is given', () => {
    expect(resolveConfig(base)).toMatchObject({ mqttPort: 1883, tls: null, mqttHost: '127.0.0.1' });
    expect(resolveConfig({ ...base, tls })).toMatchObject({ mqttPort: null, mqttsPort: 8883 });
    expect(
      resolveConfig({ ...base, tls, mqttPort: 1883, mqttHost: '127.0.0.1', host: '0.0.0.0' }),
    ).toMatchObject({ mqttPort: 1883, mqttHost: '127.0.0.1', host: '0.0.0.0' });
    expect(resolveConfig({ ...base, tls, mqttsPort: 0 }).mqttsPort).toBe(0);
    // Paths are resolved, so a reload after a chdir reads the same files.
    expect(resolveConfig({ ...base, tls }).tls?.certFile).toBe(join(process.cwd(), 'hub.pem'));
  });

  it('refuses half a pair and an MQTTS port without a certificate', () => {
    expect(() => resolveConfig({ ...base, tls: { certFile: 'a.pem', keyFile: '' } })).toThrow(
      /--tls-cert needs --tls-key/,
    );
    expect(() => resolveConfig({ ...base, tls: { certFile: '', keyFile: 'a.key' } })).toThrow(
      /--tls-key needs --tls-cert/,
    );
    expect(() => resolveConfig({ ...base, mqttsPort: 8883 })).toThrow(ConfigError);
    expect(() => resolveConfig({ ...base, tls, mqttsPort: 70000 })).toThrow(/mqtts port must be an integer/);
  });

  it('loads a pair with its certificate facts, and explains an encrypted key', async () => {
    const ca = await TestCa.create(t.dir, 'campus');
    const issued = await ca.issue('hub', 'IP:127.0.0.1,DNS:hub.campus.example');
    const ok = loadTlsCredentials({ certFile: issued.cert, keyFile: issued.key });
    expect(ok.info).toMatchObject({ serialNumber: issued.serial, subject: 'CN=classroom hub' });
    expect(ok.info.subjectAltName).toContain('DNS:hub.campus.example');
    const enc = join(t.dir, 'enc.key');
    await run('openssl', ['pkey', '-in', issued.key, '-aes256', '-passout', 'pass:secret', '-out', enc]);
    expect(() => loadTlsCredentials({ certFile: issued.cert, keyFile: enc })).toThrow(
      /--tls-key .*enc\.key: the key is encrypted; the hub needs an unencrypted key/,
    );
  });
});

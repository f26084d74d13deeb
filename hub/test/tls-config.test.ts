// resolveConfig's TLS rules (docs/hub.md "TLS"): the plain listener's default, and which flags go together.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../src/config.js';
import { tempDir } from './core-helpers.js';

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
});

// The agent's TLS settings (docs/agent.md "TLS to the hub"): broker.cert/broker.key go together and need
// a TLS URL, and each TLS verification failure becomes a brokerError that names the check that failed.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { describeBrokerError } from '../src/session/tls-errors.js';

const base = {
  agent: 'box-1',
  room: { id: 'A101' },
  dataDir: '/tmp/x',
  sources: [{ id: 'cam', kind: 'camera', input: 'udp://127.0.0.1:1' }],
};

function tlsError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code }, extra);
}

describe('agent TLS config', () => {
  it('accepts a client certificate with its key on mqtts://, resolving both paths', () => {
    const r = parseConfig(
      {
        ...base,
        broker: { url: 'mqtts://hub.campus.example:8883', cert: 'box.pem', key: 'box.key', ca: 'ca.pem' },
      },
      '/etc/classroom-agent',
    );
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.config.broker.cert).toBe('/etc/classroom-agent/box.pem');
      expect(r.config.broker.key).toBe('/etc/classroom-agent/box.key');
    }
  });

  it('refuses a certificate without its key, and a certificate on a plain URL', () => {
    const half = parseConfig({ ...base, broker: { url: 'mqtts://h:8883', cert: 'box.pem' } });
    expect(half.ok ? [] : half.errors).toEqual([
      'broker.key: give cert and key together (the client certificate and its private key)',
    ]);
    const plain = parseConfig({ ...base, broker: { url: 'mqtt://h:1883', cert: 'b.pem', key: 'b.key' } });
    expect(plain.ok ? [] : plain.errors).toEqual([
      'broker.cert: a client certificate needs an mqtts:// or wss:// broker.url',
    ]);
  });
});

describe('describeBrokerError', () => {
  const broker = { url: 'mqtts://10.1.2.3:8883', ca: '/etc/classroom-agent/ca.pem' };

  it('names the CA file for an untrusted chain, and the system store without broker.ca', () => {
    const e = tlsError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate');
    expect(describeBrokerError(e, broker)).toBe(
      "TLS: the hub's certificate is not signed by a CA in broker.ca (/etc/classroom-agent/ca.pem); refusing to send credentials: unable to get local issuer certificate (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)",
    );
    expect(describeBrokerError(e, { url: broker.url })).toContain(
      "a CA this system trusts (set broker.ca to the hub's CA bundle)",
    );
  });

  it('names the host and the names the certificate holds', () => {
    const e = tlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", {
      cert: { subjectaltname: 'DNS:hub.campus.example' },
    });
    expect(describeBrokerError(e, broker)).toBe(
      'TLS: the hub\'s certificate does not name "10.1.2.3" (the host of broker.url); it names DNS:hub.campus.example; refusing to send credentials (ERR_TLS_CERT_ALTNAME_INVALID)',
    );
  });

  it('points at the clock for an expired or not yet valid certificate; leaves other errors alone', () => {
    expect(describeBrokerError(tlsError('CERT_HAS_EXPIRED', 'certificate has expired'), broker)).toMatch(
      /has expired \(or this box's clock is wrong\)/,
    );
    expect(
      describeBrokerError(tlsError('CERT_NOT_YET_VALID', 'certificate is not yet valid'), broker),
    ).toMatch(/is this box's clock right\?/);
    expect(describeBrokerError(tlsError('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:8883'), broker)).toBe(
      'connect ECONNREFUSED 10.1.2.3:8883',
    );
    const mqttRefusal = Object.assign(new Error('Connection refused: Not authorized'), { code: 5 });
    expect(describeBrokerError(mqttRefusal, broker)).toBe('Connection refused: Not authorized');
  });
});

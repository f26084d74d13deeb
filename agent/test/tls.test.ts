import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { waitFor } from './helpers/broker.js';

// mqtts:// with a private CA (broker.ca), as on a campus network: a certificate made at test time.
describe('TLS to the broker', () => {
  let dir: string;
  let server: Server;
  let broker: Aedes;
  let port: number;

  beforeAll(async () => {
    dir = tempDir('tls-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    broker = await Aedes.createBroker();
    server = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      broker.handle,
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
    removeDir(dir);
  });

  it('connects with the configured CA', async () => {
    const data = tempDir();
    const cfg = testConfig(data, `mqtts://127.0.0.1:${port}`, {
      broker: { url: `mqtts://127.0.0.1:${port}`, ca: join(dir, 'cert.pem') },
    });
    const b = testAgent(cfg);
    try {
      await b.app.start();
      await waitFor(() => b.app.status().connected, 'connected over TLS');
    } finally {
      await b.app.stop();
      removeDir(data);
    }
  });

  it('refuses a broker certificate it cannot verify, and says why', async () => {
    const data = tempDir();
    const a = testAgent(testConfig(data, `mqtts://127.0.0.1:${port}`));
    try {
      await a.app.start();
      const err = await waitFor(() => a.app.status().brokerError, 'a TLS error');
      expect(err).toMatch(/self[- ]signed|certificate/i);
      expect(a.app.status().connected).toBe(false);
    } finally {
      await a.app.stop();
      removeDir(data);
    }
  });
});

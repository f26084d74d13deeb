// TLS on the hub's listeners (docs/hub.md "TLS"): MQTT over TLS on --mqtts-port, and the HTTPS server
// (REST API, dashboard, WSS /mqtt and /api/stream) on --http-port. One certificate serves both; SIGHUP
// re-reads it and swaps it in with setSecureContext, which applies to new handshakes only, so every open
// connection stays up.
import { readFileSync } from 'node:fs';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../config.js';
import {
  type CertificateInfo,
  loadTlsCredentials,
  type TlsCredentials,
  type TlsFiles,
} from './credentials.js';

export interface HubTlsDeps {
  log: Logger;
  metrics: Registry;
  files: TlsFiles;
  /** Already loaded and checked at start (a bad pair must stop the hub before anything listens). */
  credentials: TlsCredentials;
  /** PEM file of the CA whose client certificates MQTTS accepts in place of a password (client-ca.ts). */
  clientCaFile?: string;
  clock: { now(): number };
  /** Default MAX_PENDING_HANDSHAKES_PER_ADDRESS (tests lower it). */
  maxPendingHandshakesPerAddress?: number;
}

/** MQTT's CONNECT deadline (docs/hub.md) applies after the handshake; the handshake gets the same bound. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Sockets of one address still in their TLS handshake. The broker's cap on unauthenticated sockets per
 * address (docs/hub.md "Abuse limits") sees a TLS socket only once its handshake is done, and the
 * handshake is the costly part for the server, so it has a cap of its own, the same number.
 */
export const MAX_PENDING_HANDSHAKES_PER_ADDRESS = 32;

const EXPIRY_WARNING_MS = 30 * 86_400_000;

export type ReloadResult = { ok: true; certificate: CertificateInfo } | { ok: false; error: string };

export class HubTls {
  private credentials: TlsCredentials;
  private readonly servers = new Map<string, TlsServer>();
  private mqtts: TlsServer | null = null;
  private readonly log: Logger;
  private readonly reloads: Counter<'result'>;
  private readonly handshakeFailures: Counter<'listener' | 'reason'>;

  private readonly warned = new Set<string>();

  constructor(private readonly deps: HubTlsDeps) {
    this.credentials = deps.credentials;
    this.log = deps.log;
    const registers = [deps.metrics];
    this.reloads = new Counter({
      name: 'classroom_hub_tls_reloads_total',
      help: 'Certificate reloads on SIGHUP, by result (ok, failed: the previous certificate stays)',
      labelNames: ['result'],
      registers,
    });
    this.handshakeFailures = new Counter({
      name: 'classroom_hub_tls_handshake_failures_total',
      help: 'TLS handshakes that failed or timed out, by listener (mqtts, https) and OpenSSL reason',
      labelNames: ['listener', 'reason'],
      registers,
    });
    this.checkExpiry(deps.credentials.info);
    const self = this;
    new Gauge({
      name: 'classroom_hub_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the certificate being served (Unix seconds); alert well before it passes',
      registers,
      collect() {
        this.set(Math.floor(self.credentials.info.notAfter / 1000));
      },
    });
  }

  /** The `https` option of the HTTP server. */
  httpsOptions(): TlsCredentials['options'] & { handshakeTimeout: number } {
    return { ...this.credentials.options, handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
  }

  certificate(): CertificateInfo {
    return this.credentials.info;
  }

  /** Registers the HTTPS server (fastify's) so that reloads and handshake failures cover it too. */
  attachHttps(server: NetServer): void {
    this.watch('https', server as TlsServer);
  }

  /** Starts MQTT over TLS; each socket goes to `onSocket` once its handshake is done. Returns the port. */
  async listenMqtts(host: string, port: number, onSocket: (socket: TLSSocket) => void): Promise<number> {
    const server = createServer({
      ...this.mqttsContext(this.credentials),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // A client certificate is asked for but optional: boxes with passwords, mosquitto clients and
      // platforms connect without one; an untrusted one is refused at CONNECT (client-cert.ts), not here.
      requestCert: this.deps.clientCaFile !== undefined,
      rejectUnauthorized: false,
    });
    server.on('secureConnection', (socket) => {
      // Same reason as the plain listener (docs/hub.md "External broker"): PUBACK then ack, no Nagle wait.
      socket.setNoDelay(true);
      onSocket(socket);
    });
    this.watch('mqtts', server);
    this.mqtts = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  /**
   * Re-reads the certificate and key and swaps them into every listener. A pair that does not load is
   * refused with the reason, and the listeners keep serving the previous one.
   */
  reload(): ReloadResult {
    let next: TlsCredentials;
    let mqtts: ReturnType<HubTls['mqttsContext']>;
    try {
      next = loadTlsCredentials(this.deps.files);
      mqtts = this.mqttsContext(next);
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : String(err);
      this.reloads.inc({ result: 'failed' });
      this.log.error(
        { event: 'hub.tls_reload_failed', error, serving: this.credentials.info.serialNumber },
        'TLS certificate reload refused; still serving the previous certificate',
      );
      return { ok: false, error };
    }
    for (const [listener, server] of this.servers)
      server.setSecureContext(listener === 'mqtts' ? mqtts : next.options);
    const previous = this.credentials.info;
    this.credentials = next;
    this.checkExpiry(next.info);
    this.reloads.inc({ result: 'ok' });
    this.log.info(
      {
        event: 'hub.tls_reloaded',
        previousSerial: previous.serialNumber,
        ...logged(next.info),
      },
      'TLS certificate reloaded; new connections get it, open ones keep theirs',
    );
    return { ok: true, certificate: next.info };
  }

  private mqttsContext(c: TlsCredentials): TlsCredentials['options'] & { ca?: Buffer } {
    const file = this.deps.clientCaFile;
    if (!file) return c.options;
    try {
      return { ...c.options, ca: readFileSync(file) };
    } catch (err) {
      throw new ConfigError(`client CA ${file}: cannot read it (${(err as Error).message})`);
    }
  }

  /** Boxes refuse an expired certificate; say so at start and on reload, and a month ahead. */
  private checkExpiry(info: CertificateInfo): void {
    const left = info.notAfter - this.deps.clock.now();
    const fields = {
      subject: info.subject,
      serial: info.serialNumber,
      notAfter: new Date(info.notAfter).toISOString(),
    };
    if (left <= 0)
      this.log.error(
        { event: 'hub.tls_certificate_expired', ...fields },
        'TLS certificate has expired: clients will refuse it',
      );
    else if (left < EXPIRY_WARNING_MS)
      this.log.warn(
        { event: 'hub.tls_certificate_expiring', daysLeft: Math.floor(left / 86_400_000), ...fields },
        'TLS certificate expires within 30 days: renew it and send SIGHUP',
      );
  }

  stopAccepting(): void {
    this.mqtts?.close();
  }

  private watch(listener: string, server: TlsServer): void {
    this.servers.set(listener, server);
    const perAddress = new Map<string, number>();
    // The raw socket and its TLSSocket share address and port: the key that ends the pending count.
    const pending = new Map<string, () => void>();
    const max = this.deps.maxPendingHandshakesPerAddress ?? MAX_PENDING_HANDSHAKES_PER_ADDRESS;
    server.prependListener('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      const n = perAddress.get(address) ?? 0;
      if (n >= max) {
        this.handshakeFailures.inc({ listener, reason: 'too_many_pending' });
        if (!this.warned.has(address)) {
          this.warned.add(address);
          this.log.warn(
            { listener, remote: address, max },
            'TLS connection refused: too many handshakes in progress from this address',
          );
        }
        socket.destroy();
        return;
      }
      perAddress.set(address, n + 1);
      const key = `${address}|${socket.remotePort}`;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        pending.delete(key);
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left > 0) perAddress.set(address, left);
        else {
          perAddress.delete(address);
          this.warned.delete(address);
        }
      };
      pending.set(key, release);
      socket.once('close', release);
    });
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      pending.get(`${socket.remoteAddress ?? 'unknown'}|${socket.remotePort}`)?.();
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      // A scanner or a box with the wrong CA retries all day: count it, log it at debug only.
      const reason = (err.code ?? 'other').toLowerCase().slice(0, 60);
      this.handshakeFailures.inc({ listener, reason });
      this.log.debug({ listener, remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
    });
  }
}

export function logged(info: CertificateInfo): Record<string, string> {
  return {
    subject: info.subject,
    issuer: info.issuer,
    serial: info.serialNumber,
    fingerprint256: info.fingerprint256,
    notAfter: new Date(info.notAfter).toISOString(),
  };
}

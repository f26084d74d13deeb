// The embedded broker's CONNECT and PUBLISH rules beyond the ACL (DESIGN.md "A box is only itself";
// docs/hub.md "Abuse limits"): client id length and identity, failed-login throttling, the socket
// admission limits, QoS 2 refusal and persistent-session expiry. embedded.ts calls into this from its
// aedes hooks, so the rules live in one place for every listener (TCP, WebSocket, TLS).
import type { AuthenticateError, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { AccountDisabledError, type Accounts } from '../auth/accounts.js';
import type { Principal } from '../auth/acl.js';
import { checkClientId, clip, MAX_CLIENT_ID_LENGTH } from '../auth/identity.js';
import type { IdentityMetrics } from '../auth/metrics.js';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleOptions } from '../auth/throttle.js';
import { ConfigError } from '../config.js';
import type { Clock } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import { certificateLogin } from '../tls/client-cert.js';
import { Admission, type AdmissionOptions, DEFAULT_ADMISSION } from './admission.js';
import {
  DEFAULT_SESSIONS,
  PersistentSessions,
  type SessionOptions,
  type SessionPersistence,
} from './sessions.js';

export interface BrokerLimits {
  admission: AdmissionOptions;
  throttle: ThrottleOptions;
  sessions: SessionOptions;
}

export const DEFAULT_LIMITS: BrokerLimits = {
  admission: DEFAULT_ADMISSION,
  throttle: DEFAULT_THROTTLE,
  sessions: DEFAULT_SESSIONS,
};

/** Limits with overrides; `seconds` options of the environment (docs/hub.md) fill what is not given. */
export function resolveLimits(
  over: { [K in keyof BrokerLimits]?: Partial<BrokerLimits[K]> } = {},
  env: NodeJS.ProcessEnv = process.env,
): BrokerLimits {
  const num = (name: string, fallback: number, scale = 1): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0)
      throw new ConfigError(`${name} must be a positive number, got "${clip(raw)}"`);
    return Math.round(n * scale);
  };
  const a = DEFAULT_ADMISSION;
  const s = DEFAULT_SESSIONS;
  return {
    admission: {
      maxUnauthenticatedPerAddress: num(
        'CLASSROOM_HUB_MQTT_MAX_UNAUTHENTICATED',
        a.maxUnauthenticatedPerAddress,
      ),
      connectTimeoutMs: num('CLASSROOM_HUB_MQTT_CONNECT_TIMEOUT_S', a.connectTimeoutMs, 1000),
      ...over.admission,
    },
    throttle: { ...DEFAULT_THROTTLE, ...over.throttle },
    sessions: {
      ...s,
      expiryMs: num('CLASSROOM_HUB_MQTT_SESSION_EXPIRY_S', s.expiryMs, 1000),
      maxQueued: num('CLASSROOM_HUB_MQTT_SESSION_MAX_QUEUED', s.maxQueued),
      ...over.sessions,
    },
  };
}

export type GuardedClient = Client & { principal?: Principal };

export interface ConnectGuardDeps {
  log: Logger;
  clock: Clock;
  metrics: CoreMetrics;
  identity: IdentityMetrics;
  accounts: Accounts;
  limits: BrokerLimits;
  persistence: () => SessionPersistence;
  isLive: (clientId: string) => boolean;
  onAuthenticated?: (who: Principal) => void;
}

function refusal(message: string, code: 2 | 3 | 4 | 5): AuthenticateError {
  const err = new Error(message) as AuthenticateError;
  err.returnCode = code as AuthenticateError['returnCode'];
  return err;
}

export class ConnectGuard {
  readonly admission: Admission;
  readonly throttle: LoginThrottle;
  readonly sessions: PersistentSessions;

  constructor(private readonly d: ConnectGuardDeps) {
    this.admission = new Admission(d.clock, d.limits.admission, {
      refused: (address) => {
        d.identity.unauthenticatedRefused.inc();
        d.log.warn(
          { remote: address, max: d.limits.admission.maxUnauthenticatedPerAddress },
          'connection refused: too many unauthenticated sockets from this address',
        );
      },
      timedOut: (address) => {
        d.identity.connectionsClosed.inc({ reason: 'connect_timeout' });
        d.log.warn(
          { remote: address, timeoutMs: d.limits.admission.connectTimeoutMs },
          'connection closed: no CONNECT within the deadline',
        );
      },
    });
    this.throttle = new LoginThrottle(d.clock, d.limits.throttle);
    this.sessions = new PersistentSessions(
      d.clock,
      d.persistence,
      d.isLive,
      d.limits.sessions,
      (id, reason) => {
        d.identity.sessionsExpired.inc({ reason });
        d.log.info({ clientId: clip(id), reason }, 'persistent session deleted');
      },
    );
    d.identity.sources.unauthenticated = () => this.admission.unauthenticated();
    d.identity.sources.throttleKeys = () => this.throttle.size();
    d.identity.sources.persistentSessions = () => this.sessions.counts();
  }

  get limits(): BrokerLimits {
    return this.d.limits;
  }

  get identity(): IdentityMetrics {
    return this.d.identity;
  }

  start(): void {
    this.sessions.start();
  }

  stop(): void {
    this.sessions.stop();
  }

  /** aedes `preConnect`: the CONNECT packet arrived, so the connect deadline is met. */
  preConnect(client: Client, done: (err: Error | null, ok: boolean) => void): void {
    this.admission.connectArrived(client.conn);
    done(null, true);
  }

  /** aedes `authenticate`, with every CONNECT rule in the order that costs least first. */
  authenticate(
    client: GuardedClient,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean) => void,
  ): void {
    const { metrics, log } = this.d;
    const remote = this.admission.addressOf(client.conn);
    // Before anything about the client is logged: only the length of an overlong id is.
    if (client.id.length > MAX_CLIENT_ID_LENGTH) {
      metrics.authRefused.inc({ reason: 'client_id_too_long' });
      log.warn(
        { remote, clientIdLength: client.id.length, max: MAX_CLIENT_ID_LENGTH },
        'connection refused: client id too long',
      );
      done(refusal(`client id longer than ${MAX_CLIENT_ID_LENGTH} characters`, 2), false);
      return;
    }
    // Without a password, a client certificate can stand in for it (docs/hub.md "Client certificates").
    const byCertificate = password ? null : certificateLogin(client.conn);
    if (byCertificate && !byCertificate.ok) {
      metrics.authRefused.inc({ reason: 'bad_certificate' });
      log.warn(
        { remote, clientId: clip(client.id), reason: byCertificate.reason },
        'connection refused: client certificate',
      );
      done(refusal(byCertificate.reason, 4), false);
      return;
    }
    if (byCertificate?.ok && username && username !== byCertificate.cn) {
      metrics.authRefused.inc({ reason: 'bad_certificate' });
      log.warn(
        { remote, username: clip(username), cn: clip(byCertificate.cn) },
        "connection refused: username is not the client certificate's CN",
      );
      done(
        refusal(`client certificate is for "${clip(byCertificate.cn)}", not "${clip(username)}"`, 4),
        false,
      );
      return;
    }
    if (byCertificate?.ok) username = byCertificate.cn;
    if (!username || (!password && !byCertificate)) {
      metrics.authRefused.inc({ reason: 'no_credentials' });
      log.warn({ remote, clientId: clip(client.id) }, 'connection refused: no username or password');
      done(refusal('username and password required', 4), false);
      return;
    }
    const throttled = this.throttle.check(remote, username);
    if (!throttled.ok) {
      metrics.authRefused.inc({ reason: 'throttled' });
      log.warn(
        { remote, username: clip(username), scope: throttled.scope, retryAfterMs: throttled.retryAfterMs },
        'connection refused: too many failed logins, retry later',
      );
      // 3 "server unavailable": the refusal is temporary, not a verdict on the credentials.
      done(refusal('too many failed logins; retry later', 3), false);
      return;
    }
    const user = username;
    const lookup = byCertificate?.ok
      ? this.d.accounts.certificatePrincipal(byCertificate.cn, byCertificate.serial)
      : this.d.accounts.authenticate(user, password?.toString('utf8') ?? '');
    lookup.then(
      (who) => {
        if (!who && byCertificate?.ok) {
          this.throttle.failure(remote, user);
          metrics.authRefused.inc({ reason: 'bad_certificate' });
          log.warn(
            { remote, clientId: clip(client.id), cn: clip(user), serial: byCertificate.serial },
            'connection refused: client certificate replaced or agent unknown',
          );
          done(refusal('client certificate is not the current one of a provisioned agent', 4), false);
          return;
        }
        if (!who) {
          this.throttle.failure(remote, username);
          metrics.authRefused.inc({ reason: 'bad_credentials' });
          log.warn(
            { remote, clientId: clip(client.id), username: clip(username) },
            'connection refused: bad credentials',
          );
          done(refusal('bad username or password', 4), false);
          return;
        }
        const identity = checkClientId(who, client.id, client.clean);
        if (!identity.ok) {
          metrics.authRefused.inc({ reason: identity.code });
          log.warn(
            { remote, clientId: clip(client.id), username: who.username, reason: identity.reason },
            'connection refused: identifier rejected',
          );
          done(refusal(identity.reason, 2), false);
          return;
        }
        this.throttle.success(remote, username);
        this.admission.authenticated(client.conn);
        client.principal = who;
        this.d.onAuthenticated?.(who);
        done(null, true);
      },
      (err) => {
        if (err instanceof AccountDisabledError) {
          // `classroom-hub agents disable` (docs/hub.md "Secrets"); 5 "not authorized".
          metrics.authRefused.inc({ reason: 'disabled' });
          log.warn({ remote, username: clip(username) }, 'connection refused: account disabled');
          done(refusal('account disabled (classroom-hub agents enable)', 5), false);
          return;
        }
        metrics.authRefused.inc({ reason: 'error' });
        log.error({ err, remote, username: clip(username) }, 'authentication failed with an error');
        done(refusal('server unavailable', 3), false);
      },
    );
  }

  /**
   * Agents publish at QoS 0 or 1 only (DESIGN.md): a QoS 2 publish would make the broker keep the
   * packet until PUBREL, which a hostile client never sends. Returns the refusal, or null.
   */
  refusePublish(client: GuardedClient | null, packet: PublishPacket): string | null {
    if (packet.qos !== 2) return null;
    this.d.identity.connectionsClosed.inc({ reason: 'qos2' });
    this.d.log.warn(
      { username: client?.principal?.username, topic: clip(packet.topic, 200) },
      'connection closed: QoS 2 publish (agents publish at QoS 0/1 only)',
    );
    return 'QoS 2 publishes are not accepted';
  }

  ready(client: Client): void {
    this.sessions.connected(client.id, client.clean);
  }

  disconnected(client: Client): void {
    this.sessions.disconnected(client.id);
  }
}

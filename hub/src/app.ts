// Composition of the hub: builds the context, wires the core and the feature modules, starts and stops
// them in order. main.ts only parses argv and handles signals.
import { EventEmitter } from 'node:events';
import type { Birth } from '@classroom/protocol';
import { topics } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AgentControlModule } from './agents/routes.js';
import { AuditLog } from './audit/log.js';
import { auditRoutes } from './audit/routes.js';
import { Accounts } from './auth/accounts.js';
import { AdminToken, registerLiveAdminToken } from './auth/admin-token.js';
import { clipLogFields } from './auth/identity.js';
import { createIdentityMetrics } from './auth/metrics.js';
import { SecurityWatch } from './auth/watch.js';
import { type BrokerLimits, resolveLimits } from './broker/connect-guard.js';
import { EmbeddedBroker } from './broker/embedded.js';
import { ExternalBroker } from './broker/external.js';
import type { HubBroker } from './broker/types.js';
import { databaseFile, resolveConfig } from './config.js';
import {
  type Clock,
  createBus,
  type HubConfig,
  type HubContext,
  type HubModule,
  systemClock,
} from './context.js';
import { featureModules } from './features.js';
import { registerApiDocs } from './http/docs.js';
import { coreRoutes, provisionalRoom } from './http/routes-core.js';
import { recordsRoutes } from './http/routes-records.js';
import { adminAuth, createHttpServer, openApiRoute } from './http/server.js';
import { GroupCommitter } from './ingest/commit.js';
import { DeadLetters } from './ingest/deadletter.js';
import { DEFAULT_DEAD_LETTER_LIMITS, type DeadLetterLimits } from './ingest/deadletter-limits.js';
import { Ingest } from './ingest/ingest.js';
import { limitCounter } from './limits.js';
import { createLogger, type LogFormat, parseLogFormat } from './log.js';
import { redactingLogOptions } from './log-redact.js';
import { createMetrics } from './metrics.js';
import { ProvisionedRoomsModule } from './registry/provisioned-rooms.js';
import { AgentRegistry } from './registry/registry.js';
import { RetentionModule, type RetentionSchedule } from './retention/module.js';
import { type RetentionPolicy, resolvePolicy } from './retention/policy.js';
import { ensureIncrementalVacuum } from './retention/vacuum.js';
import { installAccess } from './staff/access.js';
import { staffRoutes } from './staff/routes.js';
import { StaffSessions } from './staff/sessions.js';
import { LoginThrottle } from './staff/throttle.js';
import { StaffUsers } from './staff/users.js';
import { StoreHealth } from './store/health.js';
import { openStore, type Store } from './store/open.js';
import { migrateCore } from './store/schema.js';
import { loadTlsCredentials } from './tls/credentials.js';
import { HubTls, logged, type ReloadResult } from './tls/listeners.js';

export interface HubOptions extends Partial<HubConfig> {
  /** Defaults to a pino logger on stdout at CLASSROOM_HUB_LOG_LEVEL (info). */
  log?: Logger;
  logLevel?: string;
  /** Output of the default logger: auto (readable at a TTY, JSON otherwise), json or pretty (log.ts). */
  logFormat?: LogFormat;
  clock?: Clock;
  /** Group-commit window in ms (default 0: adaptive, see GroupCommitOptions.windowMs). */
  commitWindowMs?: number;
  /** A group this large is committed at once, without waiting for the rest of the event-loop turn. */
  commitMaxRecords?: number;
  /** Wire the feature modules of features.ts (default true; benchmarks of the bare core turn them off). */
  features?: boolean;
  /** Retention policy (defaults: retention/policy.ts); false runs no retention (benchmarks of the bare core). */
  retention?: (Partial<RetentionPolicy> & { schedule?: Partial<RetentionSchedule> }) | false;
  /** Extra modules after the feature modules (tests, simulators). */
  modules?: (ctx: HubContext) => HubModule[];
  /** Logged once the logger exists (main.ts: an admin token on the command line, a readable token file). */
  startupWarnings?: string[];
  /** Per-agent dead-letter rate and row caps (defaults in ingest/deadletter-limits.ts). */
  deadLetterLimits?: Partial<DeadLetterLimits>;
  /** How often the hub reads CLI changes to accounts and the admin token (default 1000 ms, auth/watch.ts). */
  securityPollMs?: number;
  /** The embedded broker's abuse limits (docs/hub.md "Abuse limits"); defaults and env fill the rest. */
  limits?: { [K in keyof BrokerLimits]?: Partial<BrokerLimits[K]> };
  /** How often moves made by `classroom-hub agents move` are picked up (default 2000 ms). */
  roomPollMs?: number;
}

export interface RunningHub {
  config: HubConfig;
  httpPort: number;
  /** Port of the plain MQTT listener; 0 when there is none (TLS without --mqtt-port, or --broker). */
  mqttPort: number;
  /** Port of MQTT over TLS; null without TLS or with an external broker. */
  mqttsPort: number | null;
  /** True when HTTP and MQTT are served over TLS. */
  tls: boolean;
  /** Re-reads the TLS certificate and key (SIGHUP); open connections are untouched. */
  reloadTls(): ReloadResult;
  adminToken: string;
  ctx: HubContext;
  http: FastifyInstance;
  /** The retention pass scheduler (null with `retention: false`). */
  retention: RetentionModule | null;
  /** Graceful stop (SIGTERM): stop accepting, flush commits, publish hub/state offline, close the store. */
  stop(): Promise<void>;
}

export async function startHub(options: HubOptions = {}): Promise<RunningHub> {
  const config = resolveConfig(options);
  // A bad certificate or key must stop the hub before it opens the store or listens (docs/hub.md "TLS").
  const tlsCredentials = config.tls ? loadTlsCredentials(config.tls) : null;
  const log =
    options.log ??
    createLogger(
      {
        level: options.logLevel ?? process.env.CLASSROOM_HUB_LOG_LEVEL ?? 'info',
        base: { name: 'classroom-hub' },
        ...redactingLogOptions,
        // No log field holds more than 2 KiB, whatever a client sent (docs/hub-identity.md).
        formatters: { log: clipLogFields },
      },
      options.logFormat ?? parseLogFormat(process.env.CLASSROOM_LOG_FORMAT),
    );
  for (const w of options.startupWarnings ?? []) log.warn(w);
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();

  const db = await openStore({ ...config, log: log.child({ module: 'store' }) });
  const cleanup: Array<() => Promise<void>> = [() => db.close()];
  try {
    const storeLog = log.child({ module: 'store' });
    await migrateCore(db, ({ name, done, ms }) =>
      storeLog.info(
        { migration: name, ms },
        done ? 'database migration applied' : 'applying database migration',
      ),
    );
    const sqliteFile = db.dialect === 'sqlite' ? databaseFile(config.dataDir) : null;
    if (sqliteFile) await ensureIncrementalVacuum(db, sqliteFile, storeLog);
    const metrics = createMetrics();
    const identityMetrics = createIdentityMetrics(metrics.registry);
    const limits = resolveLimits(options.limits);
    const bus = createBus(new EventEmitter().setMaxListeners(100), log.child({ module: 'bus' }));
    const accounts = new Accounts(db);
    const registryLog = log.child({ module: 'registry' });
    const limitRefusals = limitCounter(metrics.registry);
    const registry = new AgentRegistry({
      clock,
      bus,
      log: registryLog,
      limited: (limit) => limitRefusals.inc({ limit }),
      persist: (a) => {
        db.run(
          `INSERT INTO agents (agent, room, birth, session, availability, since, last_seen) VALUES (?,?,?,?,?,?,?)
           ON CONFLICT (agent) DO UPDATE SET room = excluded.room, birth = excluded.birth, session = excluded.session,
             availability = excluded.availability, since = excluded.since, last_seen = excluded.last_seen`,
          [
            a.agent,
            a.room ? JSON.stringify(a.room) : null,
            a.birth ? JSON.stringify(a.birth) : null,
            a.session,
            a.availability,
            a.since,
            a.lastSeen,
          ],
        ).catch((err) => registryLog.error({ err, agent: a.agent }, 'persisting agent state failed'));
      },
    });
    await loadRegistry(db, accounts, registry);
    const syncAccounts = () =>
      syncRegistry(accounts, registry).catch((err) => registryLog.error({ err }, 'reading accounts failed'));
    metrics.sources.agents = () => registry.counts();

    const storeHealth = new StoreHealth(metrics.registry, storeLog, () => clock.now());
    const committer = new GroupCommitter(db, clock, metrics, {
      onOutcome: (err) => (err ? storeHealth.commitFailed(err) : storeHealth.commitSucceeded()),
      windowMs: options.commitWindowMs ?? 0,
      // 32 records start a commit at once instead of at the end of the event-loop turn: with many boxes
      // sending in step, the writer then commits while the main thread still reads and validates the rest,
      // instead of both taking turns (live ingest 6,400 → 8,500 records/s; 16–128 all did better than
      // waiting for the turn, 32 best).
      maxRecords: options.commitMaxRecords ?? 32,
    });
    const deadLetters = new DeadLetters(db, clock, metrics, log.child({ module: 'deadletter' }), 100, {
      ...DEFAULT_DEAD_LETTER_LIMITS,
      ...options.deadLetterLimits,
    });
    let ingest: Ingest | null = null;
    const onAgentMessage = (agent: string, topic: string, payload: Buffer) =>
      ingest ? ingest.handle(agent, topic, payload) : Promise.resolve();
    const broker: HubBroker = config.broker
      ? new ExternalBroker({
          url: config.broker,
          ca: config.brokerCa,
          log: log.child({ module: 'broker' }),
          clock,
          db,
          metrics,
          onAgentMessage,
        })
      : new EmbeddedBroker({
          log: log.child({ module: 'broker' }),
          clock,
          db,
          metrics,
          accounts,
          onAgentMessage,
          identity: identityMetrics,
          limits,
          // The provisioned room, read with the account at CONNECT, is authoritative (DESIGN.md).
          onAuthenticated: (who) => {
            if (who.role === 'agent' && who.room && registry.roomOf(who.username) !== who.room) {
              registry.ensure(who.username, provisionalRoom(who.room));
            }
          },
        });
    metrics.sources.connectedClients = () => broker.connectedClients();
    const audit = new AuditLog(db, clock);
    const ctx: HubContext = {
      log,
      config,
      clock,
      bus,
      db,
      mqtt: broker,
      registry,
      metrics: metrics.registry,
      hooks: { roomDetail: [] },
      audit,
    };
    ingest = new Ingest({
      log: log.child({ module: 'ingest' }),
      clock,
      bus,
      mqtt: broker,
      metrics,
      registry,
      committer,
      deadLetters,
    });

    const tls =
      config.tls && tlsCredentials
        ? new HubTls({
            log: log.child({ module: 'tls' }),
            metrics: metrics.registry,
            files: config.tls,
            credentials: tlsCredentials,
            clock,
            // The same number as the broker's unauthenticated cap (CLASSROOM_HUB_MQTT_MAX_UNAUTHENTICATED).
            maxPendingHandshakesPerAddress: limits.admission.maxUnauthenticatedPerAddress,
            ...(config.broker ? {} : { clientCaFile: await clientCa(config.dataDir, log) }),
          })
        : null;
    const http = await createHttpServer({
      log: log.child({ module: 'http' }),
      ...(tls ? { https: tls.httpsOptions() } : {}),
    });
    cleanup.unshift(() => http.close());
    const adminToken = new AdminToken(config.adminToken);
    const unregisterToken = registerLiveAdminToken(config.adminToken, adminToken);
    cleanup.unshift(async () => unregisterToken());
    if (tls) tls.attachHttps(http.server);
    // Before any route: the access hook sees each route as it is added (docs/hub-people.md, "Roles").
    const sessions = new StaffSessions(db, clock);
    await installAccess(http, {
      adminToken: config.adminToken,
      sessions,
      audit,
      log: log.child({ module: 'access' }),
      metrics: metrics.registry,
    });
    const requireAdmin = adminAuth(config.adminToken);
    coreRoutes(http, {
      ctx,
      registry,
      accounts,
      requireAdmin: requireAdmin as never,
      broker,
      startedAt,
      syncAccounts,
      storeHealth: () => storeHealth.status(),
    });
    recordsRoutes(http, db, requireAdmin);
    const { schedule: retentionSchedule, ...retentionPolicy } = options.retention || {};
    const retention =
      options.retention === false
        ? null
        : new RetentionModule({
            log: log.child({ module: 'retention' }),
            clock,
            db,
            policy: resolvePolicy(retentionPolicy),
            file: sqliteFile,
            ...(retentionSchedule ? { schedule: retentionSchedule } : {}),
          });
    staffRoutes(http, {
      users: new StaffUsers(db),
      sessions,
      throttle: new LoginThrottle(clock),
      audit,
      metrics: metrics.registry,
    });
    auditRoutes(http, audit);
    const security = new SecurityWatch({
      db,
      clock,
      log: log.child({ module: 'security' }),
      adminToken,
      broker,
      ...(options.securityPollMs ? { pollMs: options.securityPollMs } : {}),
    });
    const modules: HubModule[] = [
      security,
      new AgentControlModule(ctx, security),
      new ProvisionedRoomsModule({
        ctx,
        accounts,
        registry,
        identity: identityMetrics,
        requireAdmin: requireAdmin as never,
        ...(options.roomPollMs ? { pollMs: options.roomPollMs } : {}),
      }),
      ...(options.features === false ? [] : featureModules(ctx)),
      ...(retention ? [retention] : []),
      ...(options.modules?.(ctx) ?? []),
    ];
    for (const m of modules) m.routes?.(http);
    openApiRoute(http);
    await registerApiDocs(http);

    await broker.start();
    cleanup.unshift(() => broker.close());
    await broker.publish(
      topics.hubState(),
      { v: 1, online: true, ts: clock.now() },
      { qos: 1, retain: true },
    );
    registry.start();
    cleanup.unshift(async () => registry.stop());
    const started: HubModule[] = [];
    for (const m of modules) {
      await m.start();
      started.push(m);
      log.debug({ module: m.name }, 'module started');
    }
    cleanup.unshift(async () => {
      for (const m of [...started].reverse()) {
        await m.stop().catch((err) => log.error({ err, module: m.name }, 'module stop failed'));
      }
    });

    await http.listen({ host: config.host, port: config.httpPort });
    const httpAddr = http.server.address();
    const httpPort = typeof httpAddr === 'object' && httpAddr ? httpAddr.port : config.httpPort;
    const mqttPort = config.mqttPort === null ? 0 : await broker.listen(config.mqttHost, config.mqttPort);
    const handleSocket = broker.handleSocket?.bind(broker);
    const mqttsPort =
      tls && handleSocket ? await tls.listenMqtts(config.host, config.mqttsPort, handleSocket) : null;
    cleanup.unshift(async () => tls?.stopAccepting());
    // Lifecycle lines are part of the contract (DESIGN.md: hub.listening), so they print at any log
    // level except 'silent' (in-process use by tests and benchmarks).
    const lifecycle = log.level === 'silent' ? log : log.child({}, { level: 'info' });
    const plainMqtt = config.mqttPort === null ? null : mqttPort;
    lifecycle.info(
      {
        event: 'hub.listening',
        host: config.host,
        mqttPort: plainMqtt,
        httpPort,
        ...(tls
          ? {
              tls: true,
              mqttsPort,
              ...(plainMqtt !== null ? { mqttHost: config.mqttHost } : {}),
              certificate: logged(tls.certificate()),
            }
          : { tls: false }),
        dataDir: config.dataDir,
        store: db.dialect,
      },
      tls
        ? `hub listening: ${mqttsPort !== null ? `mqtts://${config.host}:${mqttsPort} ` : ''}${plainMqtt !== null ? `mqtt://${config.mqttHost}:${plainMqtt} ` : ''}https://${config.host}:${httpPort}`
        : `hub listening: mqtt://${config.host}:${mqttPort} http://${config.host}:${httpPort}`,
    );
    if (tls && plainMqtt !== null && !isLoopback(config.mqttHost)) {
      log.warn(
        { mqttHost: config.mqttHost, mqttPort: plainMqtt },
        'plain MQTT listener beside TLS is reachable from the network: passwords cross it in clear; bind it to loopback (--mqtt-host 127.0.0.1, docs/hub.md "TLS")',
      );
    }

    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        lifecycle.info({ event: 'hub.stopping' }, 'hub stopping');
        tls?.stopAccepting();
        await broker.stopAccepting();
        for (const m of [...started].reverse()) {
          await m.stop().catch((err) => log.error({ err, module: m.name }, 'module stop failed'));
        }
        registry.stop();
        await committer.flush();
        await broker
          .publish(topics.hubState(), { v: 1, online: false, ts: clock.now() }, { qos: 1, retain: true })
          .catch((err) => log.error({ err }, 'publishing hub/state offline failed'));
        await broker.close();
        await http.close();
        await deadLetters.stop();
        await db.close();
        unregisterToken();
        lifecycle.info({ event: 'hub.stopped' }, 'hub stopped');
      })();
      return stopping;
    };
    const reloadTls = (): ReloadResult =>
      tls ? tls.reload() : { ok: false, error: 'no TLS configured (--tls-cert/--tls-key)' };
    return {
      config,
      httpPort,
      mqttPort,
      mqttsPort,
      tls: tls !== null,
      reloadTls,
      adminToken: config.adminToken,
      ctx,
      http,
      retention,
      stop,
    };
  } catch (err) {
    for (const c of cleanup) await c().catch(() => undefined);
    throw err;
  }
}

/** The CA of box client certificates, created on the first start with TLS (docs/hub.md "Client certificates"). */
async function clientCa(dataDir: string, log: Logger): Promise<string> {
  // Loaded only with TLS: @peculiar/x509 and its Reflect polyfill stay out of a plain hub.
  const { clientCaFiles, ensureClientCa } = await import('./tls/client-ca.js');
  const { created } = await ensureClientCa(dataDir);
  const files = clientCaFiles(dataDir);
  if (created) log.info({ cert: files.cert }, 'client certificate CA created');
  return files.cert;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

async function loadRegistry(db: Store, accounts: Accounts, registry: AgentRegistry): Promise<void> {
  const rows = await db.all<{
    agent: string;
    room: string | null;
    birth: string | null;
    session: number | null;
    last_seen: number | null;
  }>('SELECT agent, room, birth, session, last_seen FROM agents');
  for (const r of rows) {
    registry.load({
      agent: r.agent,
      room: r.room ? (JSON.parse(r.room) as Birth['room']) : null,
      birth: r.birth ? (JSON.parse(r.birth) as Birth) : null,
      session: r.session,
      lastSeen: r.last_seen,
    });
  }
  await syncRegistry(accounts, registry);
}

async function syncRegistry(accounts: Accounts, registry: AgentRegistry): Promise<void> {
  for (const a of await accounts.listAgents()) {
    registry.ensure(a.agent, a.room ? provisionalRoom(a.room, a.name ?? undefined) : null);
  }
}

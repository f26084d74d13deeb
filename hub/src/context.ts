// Contracts shared by every hub module. app.ts builds one HubContext and hands it to each module;
// modules never import each other, they talk through `bus` and `db`.
import type { EventEmitter } from 'node:events';
import type { Availability, Birth, CommandResult, RecordT, Telemetry } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** Injected time source, so availability, hysteresis and backoff run under fake timers in tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
  clearTimeout(t: NodeJS.Timeout | undefined): void;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  clearInterval(t: NodeJS.Timeout | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t),
};

/** Events on the in-process bus, named as `area.what`. Payloads are already validated. */
export interface HubEvents {
  /** A birth was accepted; the room registry has been updated. */
  'agent.birth': {
    agent: string;
    birth: Birth;
    ts: number;
    /** The room the birth is filed under: the provisioned one, whatever the birth says (DESIGN.md). */
    room: Birth['room'] | null;
  };
  /** Whether the agent's current birth names a room other than its provisioned one; on every birth and move. */
  'agent.room_mismatch': {
    agent: string;
    room: string | null;
    claimed: string;
    mismatch: boolean;
    cause: 'birth' | 'move';
    ts: number;
  };
  /** The agent's provisioned room changed (`agents move`); summaries of both rooms are out of date. */
  'agent.moved': { agent: string; from: string | null; to: string | null; ts: number };
  /** Availability changed (online, offline, lost, sleeping, unknown). */
  'agent.availability': {
    agent: string;
    room: string | null;
    availability: Availability;
    previous: Availability;
    ts: number;
    reason: string;
  };
  'agent.telemetry': { agent: string; room: string | null; telemetry: Telemetry };
  /** Records were committed to the store (duplicates already removed). */
  'records.committed': { agent: string; room: string | null; records: RecordT[]; historical: boolean };
  'command.result': { agent: string; result: CommandResult };
}

export interface Bus {
  on<K extends keyof HubEvents>(event: K, listener: (payload: HubEvents[K]) => void): void;
  off<K extends keyof HubEvents>(event: K, listener: (payload: HubEvents[K]) => void): void;
  emit<K extends keyof HubEvents>(event: K, payload: HubEvents[K]): void;
}

/** Wraps a Node EventEmitter as a typed bus; a listener that throws is logged, never propagated to the emitter. */
export function createBus(emitter: EventEmitter, log: Logger): Bus {
  // off() must remove the wrapper that on() registered, not the caller's function.
  const wrappers = new WeakMap<object, Map<string, (payload: unknown) => void>>();
  return {
    on: (event, listener) => {
      const wrapped = (payload: unknown): void => {
        try {
          listener(payload as never);
        } catch (err) {
          log.error({ err, event }, 'bus listener failed');
        }
      };
      let byEvent = wrappers.get(listener);
      if (!byEvent) {
        byEvent = new Map();
        wrappers.set(listener, byEvent);
      }
      byEvent.set(event, wrapped);
      emitter.on(event, wrapped);
    },
    off: (event, listener) => {
      const wrapped = wrappers.get(listener)?.get(event);
      if (!wrapped) return;
      wrappers.get(listener)?.delete(event);
      emitter.off(event, wrapped);
    },
    emit: (event, payload) => {
      emitter.emit(event, payload);
    },
  };
}

/** One feature of the hub. The constructor only stores its arguments. */
export interface HubModule {
  readonly name: string;
  /** Registers HTTP routes; called for every module before the server listens. */
  routes?(http: FastifyInstance): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The one error body of the HTTP API. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * Promise wrapper over the store's connection: sqlite3 by default, PostgreSQL with `--database`. SQL sticks
 * to what SQLite and PostgreSQL share (`?` placeholders, ON CONFLICT, BIGINT); branch on `dialect` otherwise.
 */
export interface Db {
  /** Which SQL dialect the store speaks, for the few statements that differ (store/postgres.ts). */
  readonly dialect: 'sqlite' | 'postgres';
  run(sql: string, params?: unknown[]): Promise<{ changes: number; lastID: number }>;
  get<T>(sql: string, params?: unknown[]): Promise<T | undefined>;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  /** Runs fn inside BEGIN/COMMIT; transactions are serialised so statements of others never interleave. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Registers a named, idempotent schema migration; each module owns its tables this way. */
  migrate(name: string, sql: string): Promise<void>;
}

/** Publishing side of the hub's MQTT connection (embedded broker or external client). */
export interface HubMqtt {
  publish(topic: string, payload: unknown, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
}

export type SourceHealth = 'ok' | 'black' | 'frozen' | 'silent' | 'down' | 'unknown';

export interface SourceView {
  id: string;
  kind: 'camera' | 'microphone';
  label: string;
  probe: Birth['sources'][number]['probe'];
  status: SourceHealth;
  /** When status last changed (ms). */
  since: number | null;
}

export interface AgentView {
  agent: string;
  room: Birth['room'] | null;
  availability: Availability;
  since: number;
  session: number | null;
  lastSeen: number | null;
  birth: Birth | null;
  telemetry: Telemetry | null;
  sources: SourceView[];
}

/** Live, read-only view of agents and rooms kept by the core (births, availability, last telemetry, source health). */
export interface HubRegistry {
  agents(): AgentView[];
  agent(id: string): AgentView | undefined;
  /** Agents grouped by room id (one agent per room in practice). */
  byRoom(roomId: string): AgentView[];
  /** The platform's room registry, authoritative for rooms' names and places (rooms/module.ts). */
  setRoomDirectory?(directory: ReadonlyMap<string, AgentView['room'] & object>): void;
}

export interface HubConfig {
  dataDir: string;
  host: string;
  /** Plain MQTT/TCP port; null: no plain listener (the default once TLS is configured, docs/hub.md "TLS"). */
  mqttPort: number | null;
  /** Address of the plain MQTT listener (default: host); docs/hub.md says loopback once TLS is on. */
  mqttHost: string;
  httpPort: number;
  /** Certificate and key of the MQTTS and HTTPS listeners; null: plain MQTT and HTTP only. */
  tls: import('./tls/credentials.js').TlsFiles | null;
  /** MQTT over TLS port, used when `tls` is set. */
  mqttsPort: number;
  adminToken: string;
  broker: string | null;
  /** CA bundle of the external broker's certificate (`--broker-ca`); null: the system's CAs. */
  brokerCa: string | null;
  database: string | null;
  /** Deliver webhooks to loopback, link-local, private and multicast addresses (--webhook-allow-private). */
  webhookAllowPrivate?: boolean;
}

/**
 * Extension points of the core's routes, filled by feature modules in their constructor or start()
 * (additive to the original contract).
 */
export interface HubHooks {
  /** Extra fields merged into the body of `GET /api/rooms/{room}` (e.g. `alarms`). */
  roomDetail: Array<(roomId: string) => Promise<Record<string, unknown>>>;
}

export interface HubContext {
  log: Logger;
  config: HubConfig;
  clock: Clock;
  bus: Bus;
  db: Db;
  mqtt: HubMqtt;
  registry: HubRegistry;
  /** prom-client registry served at /metrics. */
  metrics: import('prom-client').Registry;
  hooks: HubHooks;
  /**
   * The audit log (docs/hub-people.md): `record({actor, role, action, target, detail, ip})`, or
   * `recordRequest(req, action, target, detail)` to record as the caller of an HTTP request.
   */
  audit: import('./audit/log.js').AuditLog;
}

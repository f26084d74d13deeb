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
  'agent.birth': { agent: string; birth: Birth; ts: number };
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
  return {
    on: (event, listener) => {
      emitter.on(event, (payload) => {
        try {
          listener(payload);
        } catch (err) {
          log.error({ err, event }, 'bus listener failed');
        }
      });
    },
    off: (event, listener) => emitter.off(event, listener as (p: unknown) => void),
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

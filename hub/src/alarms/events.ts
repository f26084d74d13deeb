// A small typed emitter local to the people-facing modules, so alarms, webhooks, the stream and the
// summaries talk to each other without widening the core's bus contract.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ClassEmpty } from '../utilization/class-empty.js';
import type { AlarmTransition } from './types.js';

export interface PrecheckResult {
  room: string;
  periodId: string;
  title: string;
  start: number;
  ts: number;
  ok: boolean;
  problems: string[];
}

export interface CommandUpdate {
  id: string;
  agent: string;
  name: string;
  status: string;
  ts: number;
}

export interface PeopleEvents {
  'alarm.transition': AlarmTransition;
  'schedule.precheck': PrecheckResult;
  'command.update': CommandUpdate;
  'class.empty': ClassEmpty;
}

export class PeopleBus {
  private readonly emitter = new EventEmitter();
  constructor(private readonly log: Logger) {
    this.emitter.setMaxListeners(50);
  }

  on<K extends keyof PeopleEvents>(event: K, fn: (payload: PeopleEvents[K]) => void): () => void {
    const wrapped = (payload: PeopleEvents[K]): void => {
      try {
        fn(payload);
      } catch (err) {
        this.log.error({ err, event }, 'people bus listener failed');
      }
    };
    this.emitter.on(event, wrapped);
    return () => this.emitter.off(event, wrapped);
  }

  emit<K extends keyof PeopleEvents>(event: K, payload: PeopleEvents[K]): void {
    this.emitter.emit(event, payload);
  }
}

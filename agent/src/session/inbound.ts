import {
  type Ack,
  type ConfigMessage,
  type HubState,
  type ProtocolError,
  parseMessage,
  parseTopic,
} from '@classroom/protocol';
import type { Logger } from 'pino';

/** What the agent does with each hub→agent message, once it is validated. */
export interface InboundHandlers {
  hubState(msg: HubState): void;
  ack(msg: Ack): void;
  /** Raw payload: the command module answers even malformed commands when it can read their id. */
  command(payload: Buffer): void;
  config(msg: ConfigMessage): void;
}

/**
 * The edge for everything the agent receives (house style: validate at the edges). A malformed
 * message is counted and logged with its reason and never reaches a handler.
 */
export class Inbound {
  private refused = 0;

  constructor(
    private readonly agent: string,
    private readonly log: Logger,
    private readonly handlers: InboundHandlers,
  ) {}

  refusedCount(): number {
    return this.refused;
  }

  route(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t.ok) {
      this.refuse(topic, { code: 'invalid', path: '', message: t.error });
      return;
    }
    if (t.topic.kind === 'hub-state') {
      if (payload.length === 0) return; // a cleared retained message
      const r = parseMessage('hub-state', payload);
      if (r.ok) this.handlers.hubState(r.value);
      else this.refuse(topic, r.error);
      return;
    }
    if (t.topic.kind !== 'agent' || t.topic.agent !== this.agent) return;
    switch (t.topic.leaf) {
      case 'ack': {
        const r = parseMessage('ack', payload);
        if (r.ok) this.handlers.ack(r.value);
        else this.refuse(topic, r.error);
        return;
      }
      case 'cmd':
        this.handlers.command(payload);
        return;
      case 'config': {
        if (payload.length === 0) return;
        const r = parseMessage('config', payload);
        if (r.ok) this.handlers.config(r.value);
        else this.refuse(topic, r.error);
        return;
      }
      default:
        return;
    }
  }

  private refuse(topic: string, error: ProtocolError): void {
    this.refused += 1;
    this.log.warn({ module: 'inbound', topic, error: error.message }, 'malformed message ignored');
  }
}

// Checks every MQTT message on classroom/v1/# against the exported JSON Schemas (protocol/schema/*.json)
// with ajv, a validator independent of the zod schemas they were generated from (DESIGN.md "MQTT
// protocol v1"). Attach it to a hub's embedded broker before the agents start; at the end,
// `report()` says how many of each message were seen and which did not match.
import { readdirSync, readFileSync } from 'node:fs';
import type { RunningHub } from '@classroom/hub';
import { parseTopic } from '@classroom/protocol';
import type { ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';

const SCHEMA_DIR = new URL('../../protocol/schema/', import.meta.url);

interface Packet {
  topic: string;
  payload: Buffer | string;
}
/** The part of aedes this needs: a broker-side subscription that sees every publish. */
interface BrokerSubscribe {
  subscribe(topic: string, deliver: (packet: Packet, done: () => void) => void, subscribed: () => void): void;
}

export interface TapReport {
  /** Messages seen per message name (protocol/schema file name). */
  counts: Record<string, number>;
  /** One line per message that failed its schema, or whose topic names no message. */
  failures: string[];
}

function messageName(topic: string): string | null {
  const t = parseTopic(topic);
  if (!t.ok) return null;
  if (t.topic.kind === 'hub-state') return 'hub-state';
  if (t.topic.kind === 'room-summary') return 'room-summary';
  return t.topic.leaf.replace('/', '-');
}

export class SchemaTap {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  readonly counts: Record<string, number> = {};
  readonly failures: string[] = [];

  constructor() {
    for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
      const schema = JSON.parse(readFileSync(new URL(file, SCHEMA_DIR), 'utf8')) as object;
      this.validators.set(file.replace(/\.json$/, ''), this.ajv.compile(schema));
    }
    if (this.validators.size < 10) throw new Error(`only ${this.validators.size} schemas in ${SCHEMA_DIR}`);
  }

  /** Subscribes to classroom/v1/# on the in-process hub's embedded aedes broker. */
  async attach(hub: RunningHub): Promise<void> {
    const broker = (hub.ctx.mqtt as unknown as { aedes?: BrokerSubscribe }).aedes;
    if (!broker) throw new Error('the schema tap needs the hub’s embedded broker (no --broker)');
    await new Promise<void>((resolve) =>
      broker.subscribe(
        'classroom/v1/#',
        (packet, done) => {
          this.check(packet.topic, packet.payload);
          done();
        },
        resolve,
      ),
    );
  }

  check(topic: string, payload: Buffer | string): void {
    const name = messageName(topic);
    const validate = name ? this.validators.get(name) : undefined;
    if (!name || !validate) {
      this.failures.push(`${topic}: no message of protocol v1 is sent on this topic`);
      return;
    }
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    let value: unknown;
    try {
      value = JSON.parse(payload.toString());
    } catch {
      this.failures.push(`${topic}: not JSON`);
      return;
    }
    if (!validate(value)) {
      this.failures.push(
        `${topic}: ${this.ajv.errorsText(validate.errors)}: ${payload.toString().slice(0, 300)}`,
      );
    }
  }

  report(): TapReport {
    return { counts: { ...this.counts }, failures: [...this.failures] };
  }
}

// The MQTT edge of the hub (docs/hub.md "Ingest"): every message an agent publishes is parsed with the protocol
// schemas here, and nowhere else. Refused input is dead-lettered; valid input updates the registry or
// is committed, and only then acked.
import {
  type AgentLeaf,
  type AgentState,
  type Birth,
  type CommandResult,
  LIMITS,
  parseAgentPayload,
  parseTopic,
  type RecordsBatch,
  type Telemetry,
  topics,
} from '@classroom/protocol';
import type { Logger } from 'pino';
import type { Bus, Clock, HubMqtt } from '../context.js';
import { redactPayload } from '../log-redact.js';
import type { CoreMetrics } from '../metrics.js';
import type { AgentRegistry } from '../registry/registry.js';
import type { GroupCommitter } from './commit.js';
import type { DeadLetters } from './deadletter.js';

/** Compresses an increasing seq list into [from, to] ranges. */
export function toRanges(seqs: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of seqs) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

export interface IngestDeps {
  log: Logger;
  clock: Clock;
  bus: Bus;
  mqtt: HubMqtt;
  metrics: CoreMetrics;
  registry: AgentRegistry;
  committer: GroupCommitter;
  deadLetters: DeadLetters;
}

export class Ingest {
  constructor(private readonly d: IngestDeps) {}

  /**
   * Handles one message published by the authenticated agent `agent`. Resolves once it is fully
   * handled (records: committed and acked); never rejects for bad input.
   */
  async handle(agent: string, topic: string, raw: Buffer): Promise<void> {
    const payload = redactPayload(raw);
    const t = parseTopic(topic);
    if (!t.ok || t.topic.kind !== 'agent' || t.topic.agent !== agent) {
      this.dead(
        'bad_topic',
        t.ok ? `topic does not belong to agent "${agent}"` : t.error,
        topic,
        agent,
        payload,
      );
      return;
    }
    const leaf: AgentLeaf = t.topic.leaf;
    const parsed = parseAgentPayload(leaf, payload);
    if (!parsed.ok) {
      this.dead(parsed.error.code, parsed.error.message, topic, agent, payload);
      return;
    }
    this.d.metrics.messages.inc({ leaf });
    switch (leaf) {
      case 'state':
        this.d.registry.onState(agent, parsed.value as AgentState);
        return;
      case 'birth':
        this.d.registry.onBirth(agent, parsed.value as Birth);
        return;
      case 'telemetry':
        this.d.registry.onTelemetry(agent, parsed.value as Telemetry);
        return;
      case 'cmd/result':
        this.d.registry.touch(agent);
        this.d.bus.emit('command.result', { agent, result: parsed.value as CommandResult });
        return;
      case 'records':
        await this.records(agent, topic, parsed.value as RecordsBatch);
        return;
      case 'ack':
      case 'cmd':
      case 'config':
        // The ACL refuses these before they get here; keep the refusal explicit all the same.
        this.dead('wrong_direction', `"${leaf}" is a hub→agent topic`, topic, agent, payload);
        return;
    }
  }

  private async records(agent: string, topic: string, batch: RecordsBatch): Promise<void> {
    const historical = batch.historical === true;
    const records = this.knownSources(agent, topic, batch.records);
    let inserted: typeof batch.records;
    try {
      inserted =
        records.length === 0
          ? []
          : await this.d.committer.submit({
              agent,
              room: this.d.registry.roomOf(agent),
              records,
              historical,
              receivedAt: this.d.clock.now(),
            });
    } catch (err) {
      // Not committed, so not acked: the agent keeps the records in its outbox and resends them.
      this.d.log.error({ err, agent, records: batch.records.length }, 'commit failed; records not acked');
      return;
    }
    // Every record of the batch is now in the store (new or a duplicate): ack them all.
    const ranges = toRanges(batch.records.map((r) => r.seq));
    for (let i = 0; i < ranges.length; i += LIMITS.maxAckRanges) {
      const part = ranges.slice(i, i + LIMITS.maxAckRanges);
      // QoS 0 (DESIGN.md): a lost ack only causes a resend, which is dropped as a duplicate and acked again.
      this.d.mqtt
        .publish(topics.ack(agent), { v: 1, ranges: part }, { qos: 0 })
        .then(() => this.d.metrics.acksPublished.inc())
        .catch((err) => this.d.log.warn({ err, agent }, 'ack publish failed'));
    }
    this.d.registry.onRecords(agent, inserted, historical);
    if (inserted.length > 0) {
      this.d.bus.emit('records.committed', {
        agent,
        room: this.d.registry.roomOf(agent),
        records: inserted,
        historical,
      });
    }
  }

  /**
   * A record naming a source that is not in the agent's current birth is dead-lettered as
   * `unknown_source` (DESIGN.md "A box is only itself"), so garbage cannot invent sources, their
   * health rows or alarms. It is still acked: it is kept, in the dead-letter table, and a resend would
   * only be refused again.
   */
  private knownSources(
    agent: string,
    topic: string,
    records: RecordsBatch['records'],
  ): RecordsBatch['records'] {
    const known = this.d.registry.sourceIdsOf(agent);
    if (records.every((r) => r.source === null || known?.has(r.source))) return records;
    const kept: RecordsBatch['records'] = [];
    for (const r of records) {
      if (r.source === null || known?.has(r.source)) {
        kept.push(r);
        continue;
      }
      this.dead(
        'unknown_source',
        known
          ? `record seq ${r.seq}: source "${r.source}" is not in the agent's current birth`
          : `record seq ${r.seq}: source "${r.source}" arrived before any birth of the agent`,
        topic,
        agent,
        Buffer.from(JSON.stringify(r)),
      );
    }
    return kept;
  }

  private dead(reason: string, detail: string, topic: string, agent: string | null, payload: Buffer): void {
    this.d.deadLetters.add({ reason, detail, topic, agent, payload });
  }
}

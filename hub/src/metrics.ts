// The core's Prometheus metrics. Feature modules register theirs on the same registry (ctx.metrics).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface CoreMetrics {
  registry: Registry;
  /** Read by the gauges at scrape time; app.ts points them at the broker and the registry. */
  sources: { connectedClients(): number; agents(): Record<string, number> };
  messages: Counter<'leaf'>;
  recordsInserted: Counter<string>;
  recordsDuplicate: Counter<string>;
  deadLetters: Counter<'reason'>;
  authRefused: Counter<'reason'>;
  aclRefused: Counter<'action'>;
  acksPublished: Counter<string>;
  oversizedPackets: Counter<string>;
  connectedClients: Gauge<string>;
  agentsByAvailability: Gauge<'availability'>;
  commitSeconds: Histogram<string>;
  commitRecords: Histogram<string>;
}

export function createMetrics(): CoreMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'classroom_hub_' });
  const r = [registry];
  const sources: CoreMetrics['sources'] = { connectedClients: () => 0, agents: () => ({}) };
  return {
    registry,
    sources,
    messages: new Counter({
      name: 'classroom_hub_ingest_messages_total',
      help: 'Valid messages received from agents, by topic leaf',
      labelNames: ['leaf'],
      registers: r,
    }),
    recordsInserted: new Counter({
      name: 'classroom_hub_records_inserted_total',
      help: 'Records committed to the store for the first time',
      registers: r,
    }),
    recordsDuplicate: new Counter({
      name: 'classroom_hub_records_duplicate_total',
      help: 'Records dropped as duplicates of (agent, seq) already stored',
      registers: r,
    }),
    deadLetters: new Counter({
      name: 'classroom_hub_dead_letters_total',
      help: 'Messages refused by ingest and kept in the dead-letter table, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    authRefused: new Counter({
      name: 'classroom_hub_auth_refused_total',
      help: 'MQTT connections refused at CONNECT, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    aclRefused: new Counter({
      name: 'classroom_hub_acl_refused_total',
      help: 'MQTT publishes/subscriptions refused by the ACL',
      labelNames: ['action'],
      registers: r,
    }),
    acksPublished: new Counter({
      name: 'classroom_hub_acks_published_total',
      help: 'ack messages published to agents after commit',
      registers: r,
    }),
    oversizedPackets: new Counter({
      name: 'classroom_hub_mqtt_oversized_packets_total',
      help: 'MQTT connections dropped because a packet announced more than the size limit',
      registers: r,
    }),
    connectedClients: new Gauge({
      name: 'classroom_hub_mqtt_connected_clients',
      help: 'MQTT clients currently connected',
      registers: r,
      collect() {
        this.set(sources.connectedClients());
      },
    }),
    agentsByAvailability: new Gauge({
      name: 'classroom_hub_agents',
      help: 'Known agents by availability',
      labelNames: ['availability'],
      registers: r,
      collect() {
        for (const [availability, n] of Object.entries(sources.agents())) this.set({ availability }, n);
      },
    }),
    commitSeconds: new Histogram({
      name: 'classroom_hub_store_commit_seconds',
      help: 'Latency of one group-commit transaction',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    commitRecords: new Histogram({
      name: 'classroom_hub_store_commit_records',
      help: 'Records written per group-commit transaction',
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000, 20000],
      registers: r,
    }),
  };
}

#!/usr/bin/env node
// Writes docs/grafana/classroom-hub.json, the hub's Grafana dashboard (docs/operations.md
// "Monitoring"), from the panel list below: edit here and run `node scripts/grafana-dashboard.mjs`.
// `--check` exits 1 if the committed file differs. hub/test/monitoring.test.ts checks that every
// series it queries is in a live hub's /metrics.
import { readFileSync, writeFileSync } from 'node:fs';

const OUT = new URL('../docs/grafana/classroom-hub.json', import.meta.url);
const I = 'instance=~"$instance"';
const sel = (m, extra = '') => `${m}{${I}${extra ? `,${extra}` : ''}}`;
// Grafana's own variable syntax, not a JavaScript placeholder.
const ds = { type: 'prometheus', uid: ['$', '{datasource}'].join('') };
const panels = [];
let pid = 0;
function panel(title, targets, { kind = 'timeseries', w = 12, h = 8, unit, desc = '', steps } = {}) {
  const p = {
    id: ++pid,
    type: kind,
    title,
    description: desc,
    datasource: ds,
    targets: targets.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      expr,
      legendFormat,
      datasource: ds,
    })),
    fieldConfig: { defaults: {}, overrides: [] },
    options: {},
  };
  if (unit) p.fieldConfig.defaults.unit = unit;
  if (steps) p.fieldConfig.defaults.thresholds = { mode: 'absolute', steps };
  if (kind === 'timeseries')
    p.options = { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } };
  if (kind === 'stat')
    p.options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'background',
      graphMode: 'area',
    };
  p._w = w;
  p._h = h;
  panels.push(p);
}
const row = (title) =>
  panels.push({ id: ++pid, type: 'row', title, collapsed: false, panels: [], _w: 24, _h: 1 });
const green = { color: 'green', value: null };
const rate = (m, by = '', w = '5m') => `sum${by ? ` by (${by})` : ''}(rate(${sel(m)}[${w}]))`;
const q = (p, m) => `histogram_quantile(${p}, sum by (le) (rate(${sel(m)}[5m])))`;

row('Fleet');
panel('Agents online', [[`sum(${sel('classroom_hub_agents', 'availability="online"')})`, 'online']], {
  kind: 'stat',
  w: 4,
  h: 4,
  steps: [green],
});
panel('Agents lost', [[`sum(${sel('classroom_hub_agents', 'availability="lost"')})`, 'lost']], {
  kind: 'stat',
  w: 4,
  h: 4,
  steps: [green, { color: 'orange', value: 1 }, { color: 'red', value: 10 }],
  desc: 'Boxes whose will fired or that stayed silent for 3 telemetry intervals (DESIGN.md "Agent availability").',
});
panel('Active alarms', [[`sum(${sel('classroom_hub_alarms', 'state="active"')})`, 'active']], {
  kind: 'stat',
  w: 4,
  h: 4,
  steps: [green, { color: 'orange', value: 1 }],
});
panel('MQTT clients', [[`sum(${sel('classroom_hub_mqtt_connected_clients')})`, 'clients']], {
  kind: 'stat',
  w: 4,
  h: 4,
  steps: [green],
});
panel('Records stored / s', [[rate('classroom_hub_records_inserted_total'), 'records/s']], {
  kind: 'stat',
  w: 4,
  h: 4,
  unit: 'ops',
  steps: [green],
});
panel(
  'TLS certificate expires in',
  [[`min(${sel('classroom_hub_tls_certificate_expiry_timestamp_seconds')}) - time()`, 'expires in']],
  {
    kind: 'stat',
    w: 4,
    h: 4,
    unit: 's',
    steps: [
      { color: 'red', value: null },
      { color: 'orange', value: 14 * 86400 },
      { color: 'green', value: 30 * 86400 },
    ],
    desc: 'Present only when the hub serves TLS. Renew before it turns orange (14 days).',
  },
);
panel('Store', [[`max(${sel('classroom_hub_store_degraded')})`, 'degraded']], {
  kind: 'stat',
  w: 4,
  h: 4,
  steps: [green, { color: 'red', value: 1 }],
  desc: '1 while commits fail (full disk, database down): nothing is acked, boxes keep their records (docs/hub.md "Full disk").',
});
panel('Agents by availability', [
  [`sum by (availability) (${sel('classroom_hub_agents')})`, '{{availability}}'],
]);
panel('Alarms by state', [[`sum by (state) (${sel('classroom_hub_alarms')})`, '{{state}}']]);
row('Ingest');
panel(
  'Records: stored, duplicates, acks',
  [
    [rate('classroom_hub_records_inserted_total'), 'stored'],
    [rate('classroom_hub_records_duplicate_total'), 'duplicates (resends)'],
    [rate('classroom_hub_acks_published_total'), 'acks published'],
  ],
  {
    unit: 'ops',
    desc: 'Duplicates are resends after a lost ack; dropped and acked again (DESIGN.md "Delivery").',
  },
);
panel('Messages by topic leaf', [[rate('classroom_hub_ingest_messages_total', 'leaf'), '{{leaf}}']], {
  unit: 'ops',
});
panel(
  'Commit latency',
  [
    [q(0.5, 'classroom_hub_store_commit_seconds_bucket'), 'p50'],
    [q(0.95, 'classroom_hub_store_commit_seconds_bucket'), 'p95'],
    [q(0.99, 'classroom_hub_store_commit_seconds_bucket'), 'p99'],
  ],
  {
    unit: 's',
    desc: 'One group-commit transaction (docs/hub-perf.md "Group commit window"); every ack waits for one.',
  },
);
panel('Records per commit', [
  [q(0.5, 'classroom_hub_store_commit_records_bucket'), 'p50'],
  [
    `sum(rate(${sel('classroom_hub_store_commit_records_sum')}[5m])) / sum(rate(${sel('classroom_hub_store_commit_records_count')}[5m]))`,
    'mean',
  ],
]);
panel(
  'Failed commits by reason',
  [[rate('classroom_hub_store_commit_failures_total', 'reason'), '{{reason}}']],
  {
    unit: 'ops',
    desc: 'Nothing of a failed commit is acked; the boxes resend it once the store recovers.',
  },
);
panel('Dead letters by reason', [[rate('classroom_hub_dead_letters_total', 'reason'), '{{reason}}']], {
  unit: 'ops',
  desc: 'Refused messages, kept in the dead-letter table with their reason (DESIGN.md "Bad input").',
});
panel(
  'Births naming another room',
  [[`sum(increase(${sel('classroom_hub_agent_room_mismatch_total')}[1h]))`, 'per hour']],
  {
    desc: 'Filed under the provisioned room anyway (DESIGN.md "A box is only itself"). A box was moved without `agents move`, or is misconfigured.',
  },
);
row('MQTT and security');
panel(
  'Refused logins and publishes',
  [
    [rate('classroom_hub_auth_refused_total', 'reason'), 'login: {{reason}}'],
    [rate('classroom_hub_acl_refused_total', 'action'), 'acl: {{action}}'],
  ],
  { unit: 'ops' },
);
panel(
  'Abuse limits',
  [
    [rate('classroom_hub_mqtt_connections_closed_total', 'reason'), 'closed: {{reason}}'],
    [rate('classroom_hub_mqtt_unauthenticated_refused_total'), 'unauthenticated refused'],
    [rate('classroom_hub_mqtt_oversized_packets_total'), 'oversized packets'],
  ],
  { unit: 'ops' },
);
panel('Sockets and sessions', [
  [`sum(${sel('classroom_hub_mqtt_unauthenticated_sockets')})`, 'unauthenticated sockets'],
  [`sum by (state) (${sel('classroom_hub_mqtt_persistent_sessions')})`, 'persistent sessions: {{state}}'],
  [`sum(${sel('classroom_hub_auth_throttle_keys')})`, 'throttled login keys'],
]);
panel('TLS', [
  [
    rate('classroom_hub_tls_handshake_failures_total', 'listener, reason'),
    'handshake failed: {{listener}} {{reason}}',
  ],
  [`sum by (result) (increase(${sel('classroom_hub_tls_reloads_total')}[1h]))`, 'reloads/h: {{result}}'],
]);
panel('HTTP API refusals', [[rate('classroom_hub_http_refused_total', 'reason'), '{{reason}}']], {
  unit: 'ops',
});
panel('Staff logins', [[rate('classroom_hub_staff_logins_total', 'outcome'), '{{outcome}}']], {
  unit: 'ops',
  desc: 'POST /api/session by outcome; many invalid or throttled ones mean guessing (docs/hub-staff.md).',
});
row('People-facing');
panel('Webhook deliveries', [[rate('classroom_hub_webhook_deliveries_total', 'outcome'), '{{outcome}}']], {
  unit: 'ops',
});
panel('Patrol-wall thumbnails', [[rate('classroom_hub_thumbnails_total', 'result'), '{{result}}']], {
  unit: 'ops',
  desc: 'hit: served from memory; fetched: asked of the box (a snapshot command).',
});
panel('Live stream', [
  [`sum(${sel('classroom_hub_stream_clients')})`, 'clients'],
  [rate('classroom_hub_stream_dropped_total'), 'dropped / s'],
]);
row('Process');
panel(
  'Memory',
  [
    [sel('classroom_hub_process_resident_memory_bytes'), 'RSS {{instance}}'],
    [sel('classroom_hub_nodejs_heap_size_used_bytes'), 'heap used {{instance}}'],
  ],
  { unit: 'bytes' },
);
panel(
  'Event-loop lag',
  [
    [sel('classroom_hub_nodejs_eventloop_lag_p99_seconds'), 'p99 {{instance}}'],
    [sel('classroom_hub_nodejs_eventloop_lag_mean_seconds'), 'mean {{instance}}'],
  ],
  { unit: 's', desc: 'A blocked event loop delays every ack and every API answer.' },
);
panel('CPU', [[`rate(${sel('classroom_hub_process_cpu_seconds_total')}[5m])`, '{{instance}}']], {
  unit: 'percentunit',
});
panel('Open file descriptors', [
  [sel('classroom_hub_process_open_fds'), 'open {{instance}}'],
  [sel('classroom_hub_process_max_fds'), 'limit {{instance}}'],
]);

let x = 0,
  y = 0,
  rowh = 0;
for (const p of panels) {
  const w = p._w,
    h = p._h;
  delete p._w;
  delete p._h;
  if (x + w > 24 || p.type === 'row') {
    if (x > 0) {
      y += rowh;
      x = 0;
      rowh = 0;
    }
  }
  p.gridPos = { h, w, x, y };
  x += w;
  rowh = Math.max(rowh, h);
  if (p.type === 'row') {
    y += 1;
    x = 0;
    rowh = 0;
  }
}
const dash = {
  __inputs: [
    {
      name: 'DS_PROMETHEUS',
      label: 'Prometheus',
      type: 'datasource',
      pluginId: 'prometheus',
      pluginName: 'Prometheus',
    },
  ],
  title: 'Classroom hub',
  uid: 'classroom-hub',
  description:
    'Fleet, ingest, MQTT, security and process health of classroom-hub (docs/operations.md "Monitoring").',
  tags: ['classroom'],
  timezone: 'browser',
  schemaVersion: 39,
  version: 1,
  editable: true,
  refresh: '30s',
  time: { from: 'now-6h', to: 'now' },
  templating: {
    list: [
      {
        name: 'datasource',
        label: 'Prometheus',
        type: 'datasource',
        query: 'prometheus',
        current: {},
        hide: 0,
      },
      {
        name: 'instance',
        label: 'Hub instance',
        type: 'query',
        datasource: ds,
        query: { query: 'label_values(classroom_hub_mqtt_connected_clients, instance)', refId: 'instance' },
        definition: 'label_values(classroom_hub_mqtt_connected_clients, instance)',
        includeAll: true,
        multi: true,
        allValue: '.*',
        current: { text: 'All', value: '$__all' },
        refresh: 2,
        hide: 0,
      },
    ],
  },
  annotations: { list: [] },
  panels,
};
const text = `${JSON.stringify(dash, null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (readFileSync(OUT, 'utf8') !== text) {
    console.error('docs/grafana/classroom-hub.json is stale: run node scripts/grafana-dashboard.mjs');
    process.exit(1);
  }
} else writeFileSync(OUT, text);

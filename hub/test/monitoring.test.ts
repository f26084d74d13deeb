// The monitoring docs against the real hub (docs/operations.md "Monitoring"): every classroom_hub_*
// series that the Grafana dashboard (docs/grafana/classroom-hub.json) or the alerting rules
// (docs/prometheus/classroom-hub-alerts.yml) query is in the live /metrics of a `classroom-hub serve`
// process. The hub runs with TLS so that the certificate metrics are registered too.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './core-helpers.js';
import { spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

const DOCS = new URL('../../docs/', import.meta.url).pathname;

/** Series names a scrape exposes: each `# TYPE` family, plus _bucket/_sum/_count of histograms and summaries. */
function seriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(m[1] as string);
  return names;
}

const referenced = (text: string) => new Set(text.match(/\bclassroom_hub_[a-z0-9_]+/g) ?? []);

describe('monitoring docs match the live /metrics', () => {
  const t = tempDir('hub-monitoring-');
  let hub: TlsHub;
  let ca: TestCa;
  let metrics: Set<string>;

  beforeAll(async () => {
    ca = await TestCa.create(t.dir, 'monitoring');
    const server = await ca.issue('hub', 'IP:127.0.0.1');
    hub = await spawnTlsHub(`${t.dir}/data`, [
      '--tls-cert',
      server.cert,
      '--tls-key',
      server.key,
      '--mqtts-port',
      '0',
      '--mqtt-port',
      '0',
    ]);
    const text = await new Promise<string>((resolve, reject) => {
      get(
        { host: '127.0.0.1', port: hub.listening.httpPort, path: '/metrics', ca: readFileSync(ca.cert) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}`)),
          );
        },
      ).on('error', reject);
    });
    metrics = seriesNames(text);
  }, 60_000);

  afterAll(async () => {
    await hub?.kill9();
    t.remove();
  });

  it('the Grafana dashboard is importable JSON whose every query uses real series', () => {
    const dash = JSON.parse(readFileSync(`${DOCS}grafana/classroom-hub.json`, 'utf8')) as {
      uid: string;
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; definition?: string }> };
    };
    expect(dash.uid).toBe('classroom-hub');
    const graphs = dash.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThan(10);
    const exprs: string[] = [];
    for (const p of graphs) {
      expect(p.targets?.length, `panel ${p.title} has no query`).toBeGreaterThan(0);
      for (const target of p.targets ?? []) exprs.push(target.expr);
    }
    for (const v of dash.templating.list) if (v.definition) exprs.push(v.definition);
    const names = referenced(exprs.join('\n'));
    expect(names.size).toBeGreaterThan(20);
    const missing = [...names].filter((n) => !metrics.has(n));
    expect(missing, 'dashboard series missing from /metrics').toEqual([]);
  });

  it('the committed dashboard is what scripts/grafana-dashboard.mjs generates', () => {
    const r = spawnSync(
      process.execPath,
      [new URL('../../scripts/grafana-dashboard.mjs', import.meta.url).pathname, '--check'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('every alerting rule queries real series', () => {
    const rules = readFileSync(`${DOCS}prometheus/classroom-hub-alerts.yml`, 'utf8');
    const names = referenced(rules);
    expect(names.size).toBeGreaterThan(8);
    const missing = [...names].filter((n) => !metrics.has(n));
    expect(missing, 'alert series missing from /metrics').toEqual([]);
  });

  it('the series docs/operations.md tells operators to alert on exist', () => {
    const guide = readFileSync(`${DOCS}operations.md`, 'utf8');
    const names = referenced(guide);
    expect(names.size).toBeGreaterThan(8);
    const missing = [...names].filter((n) => !metrics.has(n));
    expect(missing, 'operations.md names series missing from /metrics').toEqual([]);
  });
});

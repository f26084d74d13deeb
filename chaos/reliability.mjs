// RELIABILITY.md is rendered from chaos/reliability.json, never edited by hand: every chaos case
// upserts its row there (chaos/lib/report.ts), the soak (bench/soak.mjs) writes its section, and
// this renders both. Plain JavaScript so that bench/ and the vitest global teardown share it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_FILE = join(ROOT, 'chaos', 'reliability.json');
export const REPORT_FILE = join(ROOT, 'RELIABILITY.md');

export function readResults() {
  if (!existsSync(RESULTS_FILE)) return { cases: [], soak: null };
  const r = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
  return { cases: r.cases ?? [], soak: r.soak ?? null };
}

export function writeResults(results) {
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
}

/** Replaces the row with the same id (a re-run of one case keeps the other rows). */
export function upsertCase(row) {
  const r = readResults();
  const i = r.cases.findIndex((c) => c.id === row.id);
  if (i >= 0) r.cases[i] = row;
  else r.cases.push(row);
  r.cases.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  writeResults(r);
}

export function setSoak(soak) {
  const r = readResults();
  r.soak = soak;
  writeResults(r);
}

const cell = (v) =>
  String(v ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

function casesTable(cases) {
  const head = [
    '| Case | Load | Faults injected | Produced | Stored | Lost | Duplicated | Dropped (reported) | Duration | Result | Run |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|---|---|',
  ];
  const rows = cases.map((c) =>
    [
      `**${cell(c.title)}**`,
      cell(c.load),
      cell(c.faults),
      c.produced,
      c.stored,
      c.lost,
      c.duplicated,
      c.reportedDropped,
      `${c.durationS.toFixed(0)} s`,
      c.passed ? 'pass' : `**FAIL**: ${cell(c.failure)}`,
      cell(c.ranAt?.slice(0, 16).replace('T', ' ')),
    ].join(' | '),
  );
  return [...head, ...rows.map((r) => `| ${r} |`)].join('\n');
}

function notes(cases) {
  const withNotes = cases.filter((c) => c.notes?.length);
  if (withNotes.length === 0) return '';
  return `\n\n### What each case checked besides the count\n\n${withNotes
    .map((c) => `- **${c.title}**: ${c.notes.map(cell).join('; ')}`)
    .join('\n')}`;
}

function soakSection(s) {
  if (!s) return '\n\n## Soak\n\nNot run yet: `node bench/run.mjs soak`.\n';
  const verdict = (m) =>
    `${m.grows ? '**grows**' : 'does not grow'}: slope ${m.slopePerHour.toFixed(2)} ± ${m.slopeStdErr.toFixed(2)} ${m.unit}/h over the second half (threshold ${m.thresholdPerHour} ${m.unit}/h), median ${m.median.toFixed(1)} ${m.unit}, max ${m.max.toFixed(1)} ${m.unit}`;
  return `\n\n## Soak

\`${cell(s.command)}\`, run ${cell(s.ranAt?.slice(0, 16).replace('T', ' '))} UTC on ${cell(s.machine)}.

- Load: ${cell(s.load)}; ${s.minutes} minutes${s.minutes < 30 ? ' (**shorter than the 30 minutes of the full soak**)' : ''}.
- Records: ${s.produced} produced, ${s.stored} stored, ${s.lost} lost, ${s.duplicated} duplicated.
- Hub RSS ${verdict(s.rss)}.
- Hub event-loop lag (p99 per sample) ${verdict(s.lag)}.
- ${s.samples} samples, one every ${s.sampleEveryS} s: RSS from \`/proc/<pid>/status\` of the hub process, lag as the p99 of \`classroom_hub_nodejs_eventloop_lag_p99_seconds\` from the hub's \`/metrics\` (prom-client resets it at each scrape, so each sample covers the interval before it).
- "Grows" means the least-squares slope over the second half of the run is above the threshold **and** more than twice its standard error. The first half is warm-up (SQLite page cache, V8 heap sizing, the registry filling); a leak shows as a steady slope long after it. Thresholds: RSS 20 MiB/h (about 0.5 GiB a day, which would take a hub down within weeks), lag 30 ms/h (a healthy p99 doubled within the hour).
`;
}

export function renderReliability() {
  const { cases, soak } = readResults();
  const failed = cases.filter((c) => !c.passed).length;
  const md = `# Reliability

<!-- Written by the chaos suite (npm run test:chaos) and the soak (node bench/run.mjs soak) from
chaos/reliability.json; do not edit by hand. -->

Every case runs under at-least-once load from many boxes (protocol-level fleet boxes from
\`simulators/src/fleet\`, plus a real \`classroom-agent\` where the case needs one), injects its faults,
then stops making records, waits (bounded) until every outbox is drained, and compares each
producer's own ledger of seqs with what \`GET /api/records\` returns. **Lost** is a seq the producer
made that the hub does not hold and that no \`outbox.dropped\` event covers; **duplicated** is an extra
stored copy of an (agent, seq). A case passes only with 0 lost and 0 duplicated (and its own checks
below). "Dropped (reported)" counts records an outbox gave up on purpose and reported as
\`outbox.dropped\` (only the full-disk case of the box may do so).

How to run: \`npm run test:chaos\` (about 10 minutes on two loaded cores; as root, for the tmpfs
mounts of the full-disk cases). Each case is bounded in time and ends by itself.

## Cases

${cases.length ? casesTable(cases) : 'No case has run yet.'}

${cases.length ? `${cases.length} cases, ${failed} failed.` : ''}${notes(cases)}

## Clock skew: how the hub files records from a box whose clock is off

The hub stores a record under the box's own times (\`start\`/\`end\` of a capture, \`ts\` of an event),
exactly as sent, and stamps \`receivedAt\` with its own clock. It never rewrites a box's times: the
box's seq order is the truth about order, and a hub that "corrected" times would have to guess
which clock was wrong. So a box 1 h fast files its windows 1 h ahead in time-range queries and
rollups, its seq order is kept, its \`clock.skew\` event (with \`offsetMs\`) is stored and shown, and
\`receivedAt\` says when the hub really got each record. The clock-skew case checks exactly this.${soakSection(soak)}`;
  writeFileSync(REPORT_FILE, md);
  return md;
}

// Source health derived from committed event records (DESIGN.md record kinds). Each source keeps the
// set of conditions currently open; its status is the most severe one.
import type { EventType, RecordT } from '@classroom/protocol';
import type { SourceHealth } from '../context.js';

type Condition = 'down' | 'black' | 'frozen' | 'silent';

const SEVERITY: Condition[] = ['down', 'black', 'frozen', 'silent'];

const TRANSITIONS: Partial<Record<EventType, [Condition, boolean]>> = {
  'source.down': ['down', true],
  'source.up': ['down', false],
  'video.black.start': ['black', true],
  'video.black.end': ['black', false],
  'video.frozen.start': ['frozen', true],
  'video.frozen.end': ['frozen', false],
  'audio.silence.start': ['silent', true],
  'audio.silence.end': ['silent', false],
};

export class SourceHealthTracker {
  private readonly open = new Set<Condition>();
  status: SourceHealth;
  since: number | null;

  constructor(initial: SourceHealth = 'unknown', since: number | null = null) {
    this.status = initial;
    this.since = since;
    if (initial === 'down') this.open.add('down');
  }

  /** Applies one event record; returns true when the status changed. */
  apply(type: EventType, ts: number): boolean {
    const t = TRANSITIONS[type];
    if (!t) return false;
    const [cond, start] = t;
    if (start) this.open.add(cond);
    else this.open.delete(cond);
    const next: SourceHealth = SEVERITY.find((c) => this.open.has(c)) ?? 'ok';
    if (next === this.status) return false;
    this.status = next;
    this.since = ts;
    return true;
  }
}

/** The event records of a batch that concern sources, in seq order. */
export function sourceEvents(records: RecordT[]): Array<{ source: string; type: EventType; ts: number }> {
  const out: Array<{ source: string; type: EventType; ts: number }> = [];
  for (const r of records) {
    if (r.kind === 'event' && r.source !== null && TRANSITIONS[r.type]) {
      out.push({ source: r.source, type: r.type, ts: r.ts });
    }
  }
  return out;
}

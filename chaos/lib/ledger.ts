// Exactly-once accounting of a chaos case: what the producers say they made (their own ledgers of
// seqs) against what the hub's API says it stored. DESIGN.md: seqs are per agent, start at 1 and are
// never reused, so a producer that made seqs 1..N expects exactly those N (agent, seq) pairs stored.

export interface SeqRange {
  from: number;
  to: number;
}

/** One producer's ledger: it made seqs 1..lastSeq; `dropped` are ranges it reported as outbox.dropped. */
export interface ProducerLedger {
  agent: string;
  lastSeq: number;
  dropped?: SeqRange[];
}

export interface Tally {
  produced: number;
  stored: number;
  /** Seqs produced, not stored, and not covered by an outbox.dropped report. */
  lost: number;
  /** Extra copies of a stored (agent, seq). */
  duplicated: number;
  /** Seqs dropped by an outbox on purpose (full outbox or disk) and reported as outbox.dropped. */
  reportedDropped: number;
  /** Stored seqs above the producer's last seq (a seq the producer never made). */
  unexpected: number;
  /** The first few lost seqs per agent, for the failure message. */
  lostSample: Record<string, number[]>;
}

export interface StoredRecordView {
  agent: string;
  receivedAt: number;
  historical: boolean;
  record: {
    seq: number;
    kind: string;
    type?: string;
    ts?: number;
    start?: number;
    detail?: Record<string, unknown>;
  };
}

/** Every stored record of the agents `want` accepts, through GET /api/records and its cursor. */
export async function storedRecords(
  api: string,
  token: string,
  want: (agent: string) => boolean,
): Promise<Map<string, StoredRecordView[]>> {
  const by = new Map<string, StoredRecordView[]>();
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const res = await fetch(`${api}/api/records?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok)
      throw new Error(`GET /api/records answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const page = (await res.json()) as { records: StoredRecordView[]; nextCursor: string | null };
    for (const r of page.records) {
      if (!want(r.agent)) continue;
      const list = by.get(r.agent) ?? [];
      list.push(r);
      by.set(r.agent, list);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return by;
}

/** The outbox.dropped ranges an agent reported, read from its stored events. */
export function droppedRanges(records: StoredRecordView[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (const r of records) {
    if (r.record.kind !== 'event' || r.record.type !== 'outbox.dropped') continue;
    const d = r.record.detail ?? {};
    if (typeof d.fromSeq === 'number' && typeof d.toSeq === 'number')
      out.push({ from: d.fromSeq, to: d.toSeq });
  }
  return out;
}

export function tally(ledgers: ProducerLedger[], stored: Map<string, StoredRecordView[]>): Tally {
  const t: Tally = {
    produced: 0,
    stored: 0,
    lost: 0,
    duplicated: 0,
    reportedDropped: 0,
    unexpected: 0,
    lostSample: {},
  };
  for (const l of ledgers) {
    const copies = new Map<number, number>();
    for (const r of stored.get(l.agent) ?? []) copies.set(r.record.seq, (copies.get(r.record.seq) ?? 0) + 1);
    const dropped = l.dropped ?? [];
    t.produced += l.lastSeq;
    for (const [seq, n] of copies) {
      if (seq < 1 || seq > l.lastSeq) t.unexpected += n;
      else {
        t.stored++;
        t.duplicated += n - 1;
      }
    }
    for (let seq = 1; seq <= l.lastSeq; seq++) {
      if (copies.has(seq)) continue;
      if (dropped.some((d) => seq >= d.from && seq <= d.to)) {
        t.reportedDropped++;
        continue;
      }
      t.lost++;
      const sample = t.lostSample[l.agent] ?? [];
      if (sample.length < 10) sample.push(seq);
      t.lostSample[l.agent] = sample;
    }
  }
  return t;
}

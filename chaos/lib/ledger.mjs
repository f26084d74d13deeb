// Exactly-once accounting of a chaos case or the soak: what the producers say they made (their own
// ledgers of seqs) against what the hub's API says it stored. DESIGN.md: seqs are per agent, start at
// 1 and are never reused, so a producer that made seqs 1..N expects exactly those N (agent, seq)
// pairs stored. Plain JavaScript (typed by ledger.d.mts) so that bench/soak.bench.mjs shares it.

/** Every stored record of the agents `want` accepts, through GET /api/records and its cursor. */
export async function storedRecords(api, token, want) {
  const by = new Map();
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const res = await fetch(`${api}/api/records?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok)
      throw new Error(`GET /api/records answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const page = await res.json();
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
export function droppedRanges(records) {
  const out = [];
  for (const r of records) {
    if (r.record.kind !== 'event' || r.record.type !== 'outbox.dropped') continue;
    const d = r.record.detail ?? {};
    if (typeof d.fromSeq === 'number' && typeof d.toSeq === 'number')
      out.push({ from: d.fromSeq, to: d.toSeq });
  }
  return out;
}

export function tally(ledgers, stored) {
  const t = {
    produced: 0,
    stored: 0,
    lost: 0,
    duplicated: 0,
    reportedDropped: 0,
    unexpected: 0,
    lostSample: {},
  };
  for (const l of ledgers) {
    const copies = new Map();
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

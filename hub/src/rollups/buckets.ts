// Bucket arithmetic for rollups. Buckets follow the hub's local time zone (TZ), so a "day" is a
// school day in the campus's time, not a UTC day.

export type BucketKind = 'hour' | 'day';

export function bucketStart(kind: BucketKind, ts: number): number {
  const d = new Date(ts);
  if (kind === 'hour') d.setMinutes(0, 0, 0);
  else d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function bucketEnd(kind: BucketKind, start: number): number {
  const d = new Date(start);
  if (kind === 'hour') d.setHours(d.getHours() + 1);
  else d.setDate(d.getDate() + 1);
  return d.getTime();
}

/** Splits [from, to) at bucket boundaries: [bucketStart, overlapMs] pairs. */
export function splitSpan(kind: BucketKind, from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let t = from;
  while (t < to) {
    const start = bucketStart(kind, t);
    const end = Math.min(bucketEnd(kind, start), to);
    out.push([start, end - t]);
    t = end;
  }
  return out;
}

import type { OccupancyWindow } from '@classroom/protocol';

/**
 * The occupancy of one capture window from the counts taken in it (DESIGN.md "Records":
 * `occupancy` is the median and the maximum of the window's counts and how many there were).
 * The median of an even number of counts is the mean of the middle two, so it may end in .5.
 * No count taken: no summary (the field is optional; nothing is guessed).
 */
export function summarizeCounts(counts: readonly number[]): OccupancyWindow | undefined {
  if (counts.length === 0) return undefined;
  const sorted = [...counts].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const people = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { people, peak: sorted[sorted.length - 1]!, samples: sorted.length };
}

/** Counts of one source collected between two window closes. */
export class CountWindow {
  private counts: number[] = [];

  add(people: number): void {
    this.counts.push(people);
  }

  /** The summary of what was collected since the last close, and a fresh start. */
  close(): OccupancyWindow | undefined {
    const s = summarizeCounts(this.counts);
    this.counts = [];
    return s;
  }
}

// A capture window's people count, `occupancy: {people, peak, samples}` (docs/hub-people.md
// "Occupancy"): the median and largest of the window's counts and how many frames were counted. Read
// from the record defensively: a window without it, or from a box that cannot count, has no count,
// which is not the same as an empty room.
import { z } from 'zod';

const Occupancy = z.object({
  people: z.number().min(0).max(100_000),
  peak: z.number().int().min(0).max(100_000),
  samples: z.number().int().min(1),
});
export type Occupancy = z.infer<typeof Occupancy>;

export function occupancyOf(record: object): Occupancy | null {
  const raw = (record as { occupancy?: unknown }).occupancy;
  if (raw === undefined) return null;
  const r = Occupancy.safeParse(raw);
  return r.success ? r.data : null;
}

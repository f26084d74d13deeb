// One counter for every per-agent bound of the hub's memory and store (docs/hub.md "Per-agent bounds"):
// what one box's garbage may not grow without end. Shared by core and feature modules through the
// registry, so whoever counts first creates it.
import { Counter, type Registry } from 'prom-client';

export const LIMIT_METRIC = 'classroom_hub_limit_refusals_total';

export type LimitName = 'source_ids' | 'alarm_keys';

export function limitCounter(registry: Registry): Counter<'limit'> {
  const existing = registry.getSingleMetric(LIMIT_METRIC);
  if (existing) return existing as Counter<'limit'>;
  return new Counter({
    name: LIMIT_METRIC,
    help: 'Things refused because an agent reached a bound: source_ids (sources tracked per agent), alarm_keys (alarm rows per agent)',
    labelNames: ['limit'],
    registers: [registry],
  });
}

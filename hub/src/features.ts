// The people-facing features (alarms, rollups, schedule, commands, stream, summaries, webhooks,
// dashboard) are wired here, so the core's app.ts stays stable while they grow.
import type { HubContext, HubModule } from './context.js';

export function featureModules(_ctx: HubContext): HubModule[] {
  return [];
}

// The people-facing features (alarms, rollups, schedule, commands, stream, summaries, webhooks,
// dashboard) are wired here, so the core's app.ts stays stable while they grow.

import { type AlarmTiming, DEFAULT_ALARM_TIMING } from './alarms/engine.js';
import { PeopleBus } from './alarms/events.js';
import { AlarmsModule } from './alarms/module.js';
import { CommandsModule } from './commands/module.js';
import type { HubContext, HubModule } from './context.js';
import { DashboardModule } from './dashboard/module.js';
import { OverviewModule } from './overview/module.js';
import { PatrolModule } from './patrol/module.js';
import { RollupsModule } from './rollups/module.js';
import { RoomsModule } from './rooms/module.js';
import { ScheduleModule } from './schedule/module.js';
import { StreamModule } from './stream/module.js';
import { SummariesModule } from './summaries/module.js';
import { CLASS_EMPTY_AFTER_MS, ClassEmptyModule } from './utilization/class-empty.js';
import { LivePeople } from './utilization/live.js';
import { UtilizationModule } from './utilization/module.js';
import { WebhooksModule } from './webhooks/module.js';

export interface PeopleOptions {
  alarmTiming: AlarmTiming;
  webhook: { url: string; secret: string } | undefined;
  /** How long a scheduled class may have nobody in the room before `class.empty` is sent. */
  classEmptyAfterMs: number;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds ≥ 0, got "${raw}"`);
  return Math.round(n * 1000);
}

/** Options from the environment (CLASSROOM_HUB_ALARM_*, CLASSROOM_HUB_WEBHOOK_*), see docs/hub-people.md. */
export function peopleOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PeopleOptions {
  const d = DEFAULT_ALARM_TIMING;
  const url = env.CLASSROOM_HUB_WEBHOOK_URL;
  const secret = env.CLASSROOM_HUB_WEBHOOK_SECRET;
  if (url && !secret)
    throw new Error('CLASSROOM_HUB_WEBHOOK_URL needs CLASSROOM_HUB_WEBHOOK_SECRET to sign deliveries');
  return {
    alarmTiming: {
      raiseAfterMs: seconds(env, 'CLASSROOM_HUB_ALARM_RAISE_S', d.raiseAfterMs),
      clearAfterMs: seconds(env, 'CLASSROOM_HUB_ALARM_CLEAR_S', d.clearAfterMs),
      flapWindowMs: seconds(env, 'CLASSROOM_HUB_ALARM_FLAP_WINDOW_S', d.flapWindowMs),
      flapThreshold: d.flapThreshold,
      flapClearMs: seconds(env, 'CLASSROOM_HUB_ALARM_FLAP_CLEAR_S', d.flapClearMs),
    },
    webhook: url && secret ? { url, secret } : undefined,
    classEmptyAfterMs: seconds(env, 'CLASSROOM_HUB_CLASS_EMPTY_AFTER_S', CLASS_EMPTY_AFTER_MS),
  };
}

export interface PeopleModules {
  rooms: RoomsModule;
  utilization: UtilizationModule;
  classEmpty: ClassEmptyModule;
  livePeople: LivePeople;
  alarms: AlarmsModule;
  webhooks: WebhooksModule;
  commands: CommandsModule;
  rollups: RollupsModule;
  schedule: ScheduleModule;
  stream: StreamModule;
  summaries: SummariesModule;
  dashboard: DashboardModule;
  overview: OverviewModule;
  patrol: PatrolModule;
}

export function createPeopleModules(
  ctx: HubContext,
  opts: PeopleOptions = peopleOptionsFromEnv(),
): PeopleModules {
  const people = new PeopleBus(ctx.log.child({ module: 'people-bus' }));
  const alarms = new AlarmsModule(ctx, people, opts.alarmTiming);
  const rollups = new RollupsModule(ctx);
  const rooms = new RoomsModule(ctx);
  const livePeople = new LivePeople(ctx);
  const summaries = new SummariesModule(ctx, people, alarms.engine);
  rooms.onChange = (ids) => summaries.refresh(ids);
  return {
    livePeople,
    rooms,
    utilization: new UtilizationModule(ctx, rooms),
    classEmpty: new ClassEmptyModule(ctx, people, opts.classEmptyAfterMs),
    alarms,
    webhooks: new WebhooksModule(ctx, people, { envTarget: opts.webhook }),
    commands: new CommandsModule(ctx, people),
    rollups,
    schedule: new ScheduleModule(ctx, people, alarms.engine, rollups),
    stream: new StreamModule(ctx, people),
    summaries,
    dashboard: new DashboardModule(ctx),
    overview: new OverviewModule(ctx, alarms.engine, livePeople),
    patrol: new PatrolModule(ctx, alarms.engine),
  };
}

/** Start order: alarms before webhooks/stream/summaries (they listen to alarm transitions). */
export function featureModules(ctx: HubContext): HubModule[] {
  const m = createPeopleModules(ctx);
  return [
    m.rooms,
    m.livePeople,
    m.alarms,
    m.webhooks,
    m.commands,
    m.rollups,
    m.schedule,
    m.stream,
    m.summaries,
    m.dashboard,
    m.overview,
    m.patrol,
    m.utilization,
    m.classEmpty,
  ];
}

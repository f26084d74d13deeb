import { ConfigMessage, topics } from '@classroom/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmEngine } from '../src/alarms/engine.js';
import { PeopleBus } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import { CommandsModule } from '../src/commands/module.js';
import { RollupsModule } from '../src/rollups/module.js';
import { ScheduleModule } from '../src/schedule/module.js';
import { importSchedule } from '../src/schedule/store.js';
import { agentView, makeCtx, type TestCtx } from './people-helpers.js';

// docs/agent-media.md "Duty cycle": the room's coming classes ride in each agent's retained config.
describe('the timetable in the retained agent config', () => {
  let t: TestCtx;
  let engine: AlarmEngine;
  let rollups: RollupsModule;
  let schedule: ScheduleModule;
  let commands: CommandsModule;

  beforeEach(async () => {
    t = await makeCtx();
    const bus = new PeopleBus(t.ctx.log);
    const store = new AlarmStore(t.db);
    await store.migrate();
    engine = new AlarmEngine(store, t.ctx.clock, bus, t.ctx.log);
    rollups = new RollupsModule(t.ctx);
    commands = new CommandsModule(t.ctx, bus);
    await commands.start();
    schedule = new ScheduleModule(t.ctx, bus, engine, rollups);
    await rollups.start();
  });

  afterEach(async () => {
    await schedule.stop();
    await rollups.stop();
    await commands.stop();
    engine.stop();
    await engine.flush();
    await t.close();
  });

  it('sends the next classes of the agent room once, as a valid newer config version', async () => {
    const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    await importSchedule(
      t.db,
      'R1',
      'csv',
      `date,start,end,title\n${day},08:00,08:45,Physics\n${day},10:00,10:45,Maths\n`,
      Date.now(),
    );
    t.registry.put(agentView('a1', 'R1'));
    t.registry.put(agentView('b1', 'R2'));
    await schedule.start();
    await schedule.tick();
    await schedule.tick();
    const configs = t.published.filter((p) => p.topic.includes('/config'));
    // Only the agent of the scheduled room, once (the daily refresh is not due on the next pass).
    expect(configs.map((p) => p.topic)).toEqual([topics.config('a1')]);
    expect(configs[0]!.opts).toEqual({ qos: 1, retain: true });
    const msg = ConfigMessage.safeParse(configs[0]!.payload);
    expect(msg.success).toBe(true);
    if (!msg.success) return;
    expect(msg.data.version).toBe(1);
    expect(msg.data.config.timetable).toHaveLength(2);
    const [first] = msg.data.config.timetable!;
    expect(first![1] - first![0]).toBe(45 * 60_000);
    expect(first![0]).toBeGreaterThan(Date.now());
  });
});

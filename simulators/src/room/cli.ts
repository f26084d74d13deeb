import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { onShutdown } from '../shutdown.js';
import type { HubTarget } from './hub-client.js';
import { RoomRunner, SIM_OCCUPANCY_INTERVAL_S } from './runner.js';
import { SCENARIO_NAMES, type ScenarioName, scenario, shifted } from './scenarios.js';
import { verifyScenario } from './verify.js';
import { WebhookSink } from './webhook-sink.js';

export function registerRoom(program: Command): void {
  program
    .command('room')
    .description(
      'one real classroom-agent on a synthetic camera and mic, following a scripted fault timeline',
    )
    .requiredOption('--scenario <name>', `one of: ${SCENARIO_NAMES.join(', ')}`)
    .option('--api <url>', 'hub HTTP API (default: start an embedded hub)')
    .option('--admin-token <token>', 'hub admin token (provisions the agent through POST /api/agents)')
    .option('--broker <url>', 'hub MQTT URL (mqtt://host:port) when --api is given')
    .option('--pace-s <s>', 'timeline unit: faults last 2 units after 1 unit of normal activity', '10')
    .option(
      '--lead-in-s <s>',
      'extra normal activity before the first fault (the agent analyses streams first)',
      '10',
    )
    .option('--window-s <s>', 'agent capture window', '5')
    .option(
      '--occupancy-interval-s <s>',
      'seconds between people counts in a scenario with people (5-30)',
      String(SIM_OCCUPANCY_INTERVAL_S),
    )
    .option('--agent <id>', 'agent id', 'sim-room')
    .option('--room <id>', 'room id', 'SIM-ROOM')
    .option('--work-dir <dir>', 'agent data, config and log (default: a temp dir, removed at exit)')
    .option('--no-check', 'do not verify the hub against the timeline at the end')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const log = createLogger();
      const name = o.scenario as string;
      if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
        throw new Error(`unknown scenario "${name}"; choose one of: ${SCENARIO_NAMES.join(', ')}`);
      }
      const pace = Number(o.paceS);
      const windowS = Number(o.windowS);
      const intervalS = Number(o.occupancyIntervalS);
      if (!(pace >= 2) || !(windowS >= 1)) throw new Error('--pace-s must be ≥ 2 and --window-s ≥ 1');
      if (!(intervalS >= 5 && intervalS <= 30)) throw new Error('--occupancy-interval-s must be 5-30');
      const sc = shifted(scenario(name as ScenarioName, pace), Number(o.leadInS) || 0);
      const workDir = (o.workDir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'classroom-sim-room-'));
      const cleanups: Array<() => Promise<void>> = [];
      let hub: HubTarget;
      let sink: WebhookSink | null = null;
      if (o.api) {
        if (!o.adminToken || !o.broker) throw new Error('--api needs --admin-token and --broker');
        const b = new URL(o.broker as string);
        hub = {
          api: o.api as string,
          adminToken: o.adminToken as string,
          mqttHost: b.hostname,
          mqttPort: Number(b.port || 1883),
        };
      } else {
        const { startHub } = await import('@classroom/hub');
        // Alarm hysteresis follows the pace, so alarms rise and clear within the timeline.
        process.env.CLASSROOM_HUB_ALARM_RAISE_S ??= String(Math.max(1, pace / 5));
        process.env.CLASSROOM_HUB_ALARM_CLEAR_S ??= String(Math.max(1, pace / 5));
        // An empty class is reported one unit after its start, not the production 15 minutes.
        process.env.CLASSROOM_HUB_CLASS_EMPTY_AFTER_S ??= String(pace);
        const running = await startHub({
          dataDir: join(workDir, 'hub'),
          host: '127.0.0.1',
          httpPort: 0,
          mqttPort: 0,
          logLevel: 'warn',
          // The sink below listens on loopback (docs/hub-people.md "Webhooks").
          webhookAllowPrivate: true,
        });
        cleanups.push(() => running.stop());
        hub = {
          api: `http://127.0.0.1:${running.httpPort}`,
          adminToken: running.adminToken,
          mqttHost: '127.0.0.1',
          mqttPort: running.mqttPort,
        };
        log.info(
          { event: 'sim.hub', dashboard: `${hub.api}/#token=${hub.adminToken}` },
          `embedded hub: ${hub.api}/#token=${hub.adminToken}`,
        );
        if (sc.classes.length > 0) {
          const s = new WebhookSink(log);
          await s.register(hub, await s.start());
          cleanups.push(() => s.stop());
          sink = s;
        }
      }
      const runner = new RoomRunner(log, {
        agent: o.agent as string,
        room: {
          id: o.room as string,
          name: `Room ${o.room}`,
          building: 'Simulated',
          floor: '1',
          campus: 'Sim',
        },
        scenario: sc,
        hub,
        workDir: join(workDir, 'room'),
        ffmpegPath: locateFfmpeg().ffmpeg.path,
        windowS,
        occupancyIntervalS: intervalS,
        telemetryIntervalS: Math.max(2, windowS),
        thresholds: {
          blackMinS: Math.max(1, pace / 5),
          frozenMinS: Math.max(1, pace / 5),
          silenceMinS: Math.max(1, pace / 5),
          sourceStaleS: Math.max(3, pace / 3),
        },
      });
      const stopAll = async (): Promise<void> => {
        await runner.stop();
        for (const c of cleanups.reverse()) await c();
        if (!o.workDir) rmSync(workDir, { recursive: true, force: true });
      };
      onShutdown(log, stopAll);
      await runner.start();
      await runner.finished();
      let code = 0;
      if (o.check !== false) {
        // The end of the last fault reaches the hub a window or two after the timeline.
        await new Promise((r) => setTimeout(r, 3 * windowS * 1000));
        if (sink && sc.expect.classEmpty && sink.classEmpty.length === 0) {
          // The hub looks for empty classes every 30 s (docs/hub-people.md "`class.empty` webhook").
          const deadline = Date.now() + 90_000;
          while (sink.classEmpty.length === 0 && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 500));
        }
        const verdict = await verifyScenario(hub, o.agent as string, sc, {
          availability: runner.observer.seen,
          maxSession: runner.observer.maxSession,
          people: {
            startedAt: runner.startedAt,
            lagS: Math.max(10, 2 * intervalS),
            tolerance: 2,
            intervalS,
            windowS,
          },
          ...(sink ? { classEmpty: { room: o.room as string, reports: sink.classEmpty } } : {}),
        });
        log.info(
          { event: 'scenario.verdict', ...verdict },
          verdict.ok ? 'scenario passed' : 'scenario FAILED',
        );
        code = verdict.ok ? 0 : 1;
      }
      await stopAll();
      process.exit(code);
    });
}

import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { onShutdown } from '../shutdown.js';
import { DEMO_DEFAULTS, Demo } from './demo.js';

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: "${v}"`);
  return n;
};

export function registerDemo(program: Command): void {
  const env = process.env;
  program
    .command('demo')
    .description(
      'a hub, 12 simulated rooms in 2 buildings (6 real agents on synthetic media, 2 of them counting people with a timetable), faults that come and go',
    )
    .option('--data-dir <dir>', 'hub and simulator data', env.CLASSROOM_HUB_DATA_DIR ?? './demo-data')
    .option('--host <host>', 'hub listen address', env.CLASSROOM_HUB_HOST ?? '127.0.0.1')
    .option(
      '--http-port <port>',
      'hub HTTP port (0 = free port)',
      port,
      Number(env.CLASSROOM_HUB_HTTP_PORT ?? 8080),
    )
    .option(
      '--mqtt-port <port>',
      'hub MQTT port (0 = free port)',
      port,
      Number(env.CLASSROOM_HUB_MQTT_PORT ?? 1883),
    )
    .option(
      '--admin-token <token>',
      'hub admin token (default: generated and kept in the data dir)',
      env.CLASSROOM_HUB_ADMIN_TOKEN,
    )
    .option('--pace-s <s>', 'timeline unit of the real rooms', String(DEMO_DEFAULTS.paceS))
    .option(
      '--fleet-rooms <n>',
      'protocol-level rooms besides the 4 real ones',
      String(DEMO_DEFAULTS.fleetRooms),
    )
    .option(
      '--class-empty-after-s <s>',
      'seconds a demo class may have nobody in the room before the hub sends class.empty',
      env.CLASSROOM_HUB_CLASS_EMPTY_AFTER_S ?? String(DEMO_DEFAULTS.classEmptyAfterS),
    )
    .action(async (o: Record<string, string | number | undefined>) => {
      const log = createLogger();
      const afterS = Number(o.classEmptyAfterS);
      if (!(afterS >= 0)) throw new Error('--class-empty-after-s must be a number of seconds ≥ 0');
      const demo = new Demo(log, {
        dataDir: o.dataDir as string,
        host: o.host as string,
        httpPort: o.httpPort as number,
        mqttPort: o.mqttPort as number,
        adminToken: o.adminToken as string | undefined,
        paceS: Number(o.paceS),
        fleetRooms: Number(o.fleetRooms),
        classEmptyAfterS: afterS,
        onClassEmpty: (r) =>
          process.stderr.write(
            `class.empty: ${r.room} had nobody in "${r.period.title}" (${new Date(r.period.start).toLocaleTimeString()}) for its first ${r.afterMinutes} min\n`,
          ),
      });
      onShutdown(log, () => demo.stop());
      await demo.start();
      const url = demo.dashboardUrl();
      log.info({ event: 'demo.ready', dashboard: url, mqttPort: demo.hub!.mqttPort }, 'demo running');
      process.stderr.write(
        `\nClassroom demo is running. Dashboard:\n\n  ${url}\n\nPress Ctrl-C to stop.\n\n`,
      );
    });
}

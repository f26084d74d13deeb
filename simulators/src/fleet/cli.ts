import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { onShutdown } from '../shutdown.js';
import { FLEET_DEFAULTS, Fleet, type FleetConfig } from './fleet.js';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got "${v}"`);
  return n;
};
const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected a non-negative number, got "${v}"`);
  return n;
};
const ratio = (v: string): number => {
  const n = num(v);
  if (n > 1) throw new Error(`expected a probability between 0 and 1, got "${v}"`);
  return n;
};

export function registerFleet(program: Command): void {
  const d = FLEET_DEFAULTS;
  program
    .command('fleet')
    .description('protocol-level agents (no ffmpeg) for load and fault tests')
    .requiredOption('--broker <url>', 'MQTT broker URL, e.g. mqtt://127.0.0.1:1883')
    .requiredOption('--rooms <n>', 'number of simulated rooms (one agent each)', int)
    .option('--api <url>', 'hub HTTP API base URL, for provisioning (with --admin-token)')
    .option('--admin-token <token>', 'hub admin token; agents are provisioned through POST /api/agents')
    .option('--password <secret>', 'shared MQTT password when not provisioning', d.password)
    .option('--prefix <p>', 'agent id prefix', d.prefix)
    .option('--room-prefix <p>', 'room id prefix', d.roomPrefix)
    .option('--first-index <n>', 'number of the first room', int, d.firstIndex)
    .option('--buildings <list>', 'comma-separated building names', d.buildings.join(','))
    .option('--campus <name>', 'campus name', d.campus)
    .option('--state-file <path>', 'persist sessions, seqs and credentials here across runs')
    .option('--seed <n>', 'random seed (faults and values are reproducible)', int, d.seed)
    .option('--window-s <s>', 'capture window length', int, d.windowS)
    .option('--telemetry-interval-s <s>', 'telemetry interval', int, d.telemetryIntervalS)
    .option('--connect-rate <n>', 'new connections per second', num, d.connectRate)
    .option(
      '--disconnects-per-min <n>',
      'abrupt connection losses per minute, fleet-wide',
      num,
      d.disconnectsPerMin,
    )
    .option('--reconnect-delay-s <s>', 'mean delay before reconnecting', num, d.reconnectDelayS)
    .option('--duplicate-rate <p>', 'probability a records batch is sent twice', ratio, d.duplicateRate)
    .option(
      '--malformed-rate <p>',
      'probability per agent and window of a malformed message',
      ratio,
      d.malformedRate,
    )
    .option('--clock-skew-ms <ms>', 'each agent clock is off by up to this much', num, d.clockSkewMs)
    .option(
      '--media-fault-rate <p>',
      'probability per agent and window of a black/frozen/silent episode',
      ratio,
      d.mediaFaultRate,
    )
    .option('--duration-s <s>', 'stop after this long (default: run until SIGINT/SIGTERM)', num)
    .option('--stats-interval-s <s>', 'log fleet counters this often', num, 10)
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger();
      const config: FleetConfig = {
        ...d,
        brokerUrl: o.broker as string,
        rooms: o.rooms as number,
        api: (o.api as string | undefined) ?? null,
        adminToken: (o.adminToken as string | undefined) ?? null,
        password: o.password as string,
        prefix: o.prefix as string,
        roomPrefix: o.roomPrefix as string,
        firstIndex: o.firstIndex as number,
        buildings: (o.buildings as string)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        campus: o.campus as string,
        stateFile: (o.stateFile as string | undefined) ?? null,
        seed: o.seed as number,
        windowS: o.windowS as number,
        telemetryIntervalS: o.telemetryIntervalS as number,
        connectRate: o.connectRate as number,
        disconnectsPerMin: o.disconnectsPerMin as number,
        reconnectDelayS: o.reconnectDelayS as number,
        duplicateRate: o.duplicateRate as number,
        malformedRate: o.malformedRate as number,
        clockSkewMs: o.clockSkewMs as number,
        mediaFaultRate: o.mediaFaultRate as number,
      };
      if (config.adminToken && !config.api)
        throw new Error('--admin-token needs --api <url> to provision agents');
      const fleet = new Fleet({ log }, config);
      const statsTimer = setInterval(
        () =>
          log.info(
            {
              event: 'fleet.stats',
              online: fleet.onlineCount(),
              pending: fleet.pendingRecords(),
              ...fleet.stats,
            },
            'fleet stats',
          ),
        (o.statsIntervalS as number) * 1000,
      );
      onShutdown(log, async () => {
        clearInterval(statsTimer);
        await fleet.stop();
      });
      await fleet.start();
      if (o.durationS !== undefined) {
        setTimeout(() => process.kill(process.pid, 'SIGTERM'), (o.durationS as number) * 1000);
      }
    });
}

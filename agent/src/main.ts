import { Command } from 'commander';
import { AgentApp } from './app.js';
import { loadConfig } from './config.js';
import { createLogger, type LogFormat, parseLogFormat } from './log.js';
import { redactingLogHooks } from './redact.js';
import { VERSION } from './version.js';

function checkConfig(file: string): never {
  const r = loadConfig(file);
  if (!r.ok) {
    console.error(`${file}: invalid config`);
    for (const e of r.errors) console.error(`  ${e}`);
    process.exit(1);
  }
  console.log(
    `${file}: ok (agent ${r.config.agent}, room ${r.config.room.id}, ${r.config.sources.length} sources)`,
  );
  process.exit(0);
}

async function run(file: string, format: LogFormat): Promise<void> {
  const r = loadConfig(file);
  if (!r.ok) {
    console.error(`${file}: invalid config`);
    for (const e of r.errors) console.error(`  ${e}`);
    process.exit(1);
  }
  const log = createLogger(
    { level: r.config.logLevel, base: { agent: r.config.agent }, hooks: redactingLogHooks },
    format,
  );
  const app = new AgentApp({ config: r.config, log });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A stuck stop must not keep the box from restarting: systemd would SIGKILL anyway.
    const guard = setTimeout(() => {
      log.error('stop took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    guard.unref();
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  // Crash loudly so systemd restarts a clean process; the outbox makes the restart lossless.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await app.start();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    process.exit(1);
  }
}

const program = new Command('classroom-agent')
  .enablePositionalOptions()
  .description(
    'Classroom edge agent: watches camera and microphone with ffmpeg and reports to the hub over MQTT',
  )
  .version(VERSION)
  .option('-c, --config <file>', 'agent config (JSON)')
  .option('--check-config <file>', 'validate a config file, print every problem, exit 0 (valid) or 1')
  .option(
    '--log-format <format>',
    'auto (readable at a terminal, JSON lines otherwise), json or pretty; env CLASSROOM_LOG_FORMAT',
  )
  .action(async (opts: { config?: string; checkConfig?: string; logFormat?: string }) => {
    let format: LogFormat;
    try {
      format = parseLogFormat(opts.logFormat ?? process.env.CLASSROOM_LOG_FORMAT);
    } catch (err) {
      console.error(`classroom-agent: ${(err as Error).message}`);
      process.exit(2);
    }
    if (opts.checkConfig) checkConfig(opts.checkConfig);
    if (!opts.config) {
      console.error('classroom-agent: --config <file> is required (see --help)');
      process.exit(2);
    }
    await run(opts.config, format);
  });

program
  .command('occupancy-check')
  .description('count the people a camera sees now and print JSON; --out writes an annotated frame here')
  .requiredOption('--config <file>', 'agent config (JSON)')
  .requiredOption('--source <id>', 'the camera source id')
  .option('--expected <n>', 'the number of people really in the room, for comparison')
  .option('--out <file.jpg>', 'write the frame with the counted faces boxed (stays on this box)')
  .action(async (opts: { config: string; source: string; expected?: string; out?: string }) => {
    const expected = opts.expected === undefined ? undefined : Number(opts.expected);
    if (expected !== undefined && !(Number.isInteger(expected) && expected >= 0)) {
      console.error('classroom-agent occupancy-check: --expected must be a whole number ≥ 0');
      process.exit(2);
    }
    const { occupancyCheck } = await import('./occupancy/cli.js');
    const r = await occupancyCheck({ config: opts.config, source: opts.source, expected, out: opts.out });
    console.log(JSON.stringify(r));
    process.exit(r.error ? 1 : 0);
  });

await program.parseAsync();

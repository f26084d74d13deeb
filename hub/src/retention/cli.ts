// `classroom-hub retention run`: one pass now, against the hub's own store, while the hub runs or not
// (DESIGN.md "Hub"). Prints the pass's report as one JSON object: rows deleted per table.
import { type Command, Option } from 'commander';
import { ConfigError, DEFAULTS, databaseFile } from '../config.js';
import { systemClock } from '../context.js';
import { databaseOption } from '../store/cli.js';
import { openStore } from '../store/open.js';
import { migrateCore } from '../store/schema.js';
import { policyFromOptions, retentionOptions } from './policy.js';
import { runPass } from './sweep.js';

export function registerRetentionCommand(program: Command): void {
  const retention = program.command('retention').description('delete data older than its retention');
  const run = retention
    .command('run')
    .description('run one retention pass now (works while the hub runs); prints what it deleted as JSON')
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption());
  for (const o of retentionOptions()) run.addOption(o);
  run.action(async (o: Record<string, unknown> & { dataDir: string; database?: string }) => {
    try {
      const policy = policyFromOptions(o);
      const db = await openStore({ dataDir: o.dataDir, database: o.database });
      try {
        await migrateCore(db);
        const report = await runPass({
          db,
          clock: systemClock,
          policy,
          file: db.dialect === 'sqlite' ? databaseFile(o.dataDir) : null,
        });
        process.stdout.write(`${JSON.stringify({ policy, ...report })}\n`);
      } finally {
        await db.close();
      }
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`classroom-hub: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
  });
}

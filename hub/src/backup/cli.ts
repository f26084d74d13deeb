// `classroom-hub backup --data-dir D --to FILE`: a consistent online backup of the SQLite store while the
// hub runs (DESIGN.md "Hub"; restore in docs/hub.md "Backup and restore"). Progress goes to stderr, the
// result to stdout as JSON. PostgreSQL is backed up with its own tools (pg_dump, pg_basebackup).
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { DEFAULTS, databaseFile } from '../config.js';
import { databaseOption } from '../store/cli.js';
import { BackupError, backupSqlite } from './sqlite.js';

const MiB = 1024 * 1024;

export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('consistent online backup of the SQLite store (works while the hub runs); prints JSON')
    .requiredOption('--to <file>', 'the backup file to write (a SQLite database)')
    .addOption(
      new Option('--data-dir <dir>', 'directory of the database')
        .env('CLASSROOM_HUB_DATA_DIR')
        .default(DEFAULTS.dataDir),
    )
    .addOption(databaseOption())
    .option('--force', 'replace the file if it exists')
    .option('--no-verify', 'skip the integrity check of the copy (PRAGMA quick_check)')
    .action(
      async (o: { to: string; dataDir: string; database?: string; force?: boolean; verify: boolean }) => {
        if (o.database) {
          console.error(
            'classroom-hub: backup copies the SQLite store; for PostgreSQL use pg_dump -Fc or pg_basebackup (docs/hub-postgres.md "Backup and restore")',
          );
          process.exit(2);
        }
        try {
          const res = await backupSqlite({
            source: databaseFile(o.dataDir),
            to: resolve(o.to),
            force: o.force === true,
            verify: o.verify,
            onProgress: ({ bytes, expectedBytes }) => {
              const pct = expectedBytes > 0 ? Math.min(100, Math.round((bytes / expectedBytes) * 100)) : 100;
              process.stderr.write(
                `backup: ${pct}% (${(bytes / MiB).toFixed(1)} of ~${(expectedBytes / MiB).toFixed(1)} MiB)\n`,
              );
            },
          });
          process.stdout.write(`${JSON.stringify(res)}\n`);
        } catch (err) {
          if (err instanceof BackupError) {
            console.error(`classroom-hub: ${err.message}`);
            process.exit(1);
          }
          throw err;
        }
      },
    );
}

// The `--database` option shared by `serve` and the commands that write to the store directly.
import { Option } from 'commander';

export const databaseOption = () =>
  new Option(
    '--database <url>',
    'PostgreSQL URL (postgres://user:pass@host:5432/db) instead of the SQLite file in the data dir',
  ).env('CLASSROOM_HUB_DATABASE');

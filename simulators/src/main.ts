import { Command } from 'commander';
import { registerDemo } from './demo/cli.js';
import { registerFleet } from './fleet/cli.js';
import { setLogFormat } from './log.js';
import { registerRoom } from './room/cli.js';
import { VERSION } from './version.js';

const program = new Command('classroom-sim')
  .description('Simulated classrooms: real agents on synthetic media, protocol fleets, and the demo')
  .version(VERSION)
  .option(
    '--log-format <format>',
    'auto (readable at a terminal, JSON lines otherwise), json or pretty; env CLASSROOM_LOG_FORMAT',
  )
  .hook('preAction', () => {
    try {
      setLogFormat(program.opts<{ logFormat?: string }>().logFormat);
    } catch (err) {
      program.error(`classroom-sim: ${(err as Error).message}`);
    }
  });

registerFleet(program);
registerRoom(program);
registerDemo(program);

await program.parseAsync();

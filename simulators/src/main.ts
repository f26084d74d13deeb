import { Command } from 'commander';
import { registerFleet } from './fleet/cli.js';
import { VERSION } from './version.js';

const program = new Command('classroom-sim')
  .description('Simulated classrooms: real agents on synthetic media, protocol fleets, and the demo')
  .version(VERSION);

registerFleet(program);

await program.parseAsync();

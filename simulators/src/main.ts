import { Command } from 'commander';
import { registerDemo } from './demo/cli.js';
import { registerFleet } from './fleet/cli.js';
import { registerRoom } from './room/cli.js';
import { VERSION } from './version.js';

const program = new Command('classroom-sim')
  .description('Simulated classrooms: real agents on synthetic media, protocol fleets, and the demo')
  .version(VERSION);

registerFleet(program);
registerRoom(program);
registerDemo(program);

await program.parseAsync();

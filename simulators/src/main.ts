import { Command } from 'commander';
import { VERSION } from './version.js';

const program = new Command('classroom-sim')
  .description('Simulated classrooms: real agents on synthetic media, protocol fleets, and the demo')
  .version(VERSION);

program
  .command('demo')
  .description('hub + simulated rooms + dashboard')
  .action(() => {
    console.error('classroom-sim demo: not built yet (issue 6)');
    process.exit(2);
  });

await program.parseAsync();

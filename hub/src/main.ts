import { Command } from 'commander';
import { VERSION } from './version.js';

const program = new Command('classroom-hub')
  .description('Classroom hub: MQTT broker, ingest, availability, alarms, HTTP API and dashboard')
  .version(VERSION);

program
  .command('serve')
  .description('run the hub')
  .action(() => {
    console.error('classroom-hub serve: not built yet (issue 3)');
    process.exit(2);
  });

await program.parseAsync();

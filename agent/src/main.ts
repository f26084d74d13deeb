import { Command } from 'commander';
import { VERSION } from './version.js';

const program = new Command('classroom-agent')
  .description(
    'Classroom edge agent: watches camera and microphone with ffmpeg and reports to the hub over MQTT',
  )
  .version(VERSION)
  .option('-c, --config <file>', 'agent config (JSON)')
  .action(() => {
    console.error('classroom-agent: not built yet (issue 5)');
    process.exit(2);
  });

await program.parseAsync();

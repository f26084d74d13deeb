// One camera monitor as the agent runs it (built code, agent/dist/media), in a process of its own so
// that bench/agent-matrix.bench.mjs can run two cells at once and still read each agent's CPU from
// /proc (this node process plus the ffmpeg it runs and reaps: utime+stime and cutime+cstime).
// Argument: JSON {input, thresholds, windowS}. Stdout, one JSON line each: {ready}, then
// {event, arrived} per event; on "stop" (stdin) it stops the monitor and prints {stopped, decode}
// (its ffmpeg reaped, so their CPU is in cutime), then waits for "exit".
import { createInterface } from 'node:readline';
import pino from 'pino';

const { createSourceMonitor, withDefaults } = await import(
  new URL('../../agent/dist/media/index.js', import.meta.url).href
);
const { locateFfmpeg } = await import(new URL('../../agent/dist/ffmpeg/locate.js', import.meta.url).href);

const o = JSON.parse(process.argv[2]);
const say = (x) => process.stdout.write(`${JSON.stringify(x)}\n`);
const settings = { windowS: o.windowS ?? 10, thresholds: withDefaults(o.thresholds) };
const mon = createSourceMonitor(
  { id: 'cam', kind: 'camera', input: o.input },
  {
    // info: the monitor's once-only "switching to low-fps decode" reason goes to stderr.
    log: pino({ level: 'info' }, pino.destination(2)),
    clock: { now: () => Date.now() },
    ffmpeg: locateFfmpeg(),
    settings: () => settings,
    onRecord: (r) => {
      if (r.kind === 'event') say({ event: r.type, arrived: Date.now(), ts: r.ts });
    },
  },
);
say({ ready: true });
await mon.start();
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'stop') {
    await mon.stop();
    say({ stopped: true, decode: mon.status().decode ?? null });
  } else if (line === 'exit') break;
}
process.exit(0);

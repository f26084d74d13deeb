// One agent-side camera monitor, as the agent runs it (built code, agent/dist), with people
// counting on or off; bench/agent-occupancy.bench.mjs runs two of these at once on the same
// media and reads their CPU from /proc. Argument: JSON {input, occupancy, intervalS, seconds}.
import pino from 'pino';

const { createSourceMonitor, withDefaults } = await import(
  new URL('../../agent/dist/media/index.js', import.meta.url).href
);
const { OccupancyCounter } = await import(
  new URL('../../agent/dist/occupancy/module.js', import.meta.url).href
);
const { PeopleDetector } = await import(
  new URL('../../agent/dist/occupancy/detector.js', import.meta.url).href
);
const { locateFfmpeg } = await import(new URL('../../agent/dist/ffmpeg/locate.js', import.meta.url).href);

const o = JSON.parse(process.argv[2]);
const log = pino({ level: 'warn' });
const source = {
  id: 'cam',
  kind: 'camera',
  input: o.input,
  occupancy: { enabled: o.occupancy, intervalS: o.intervalS },
};
const counts = [];
// The wall time each count finished, so the bench knows how many fell in its measured span.
const countedAt = [];
const createDetector = () => {
  const d = new PeopleDetector();
  const count = d.count.bind(d);
  d.count = async (picture) => {
    const r = await count(picture);
    countedAt.push(Date.now());
    return r;
  };
  return d;
};
const counter = new OccupancyCounter({ log, sources: [source], createDetector });
counter.start();
const windows = [];
const mon = createSourceMonitor(source, {
  log,
  clock: { now: () => Date.now() },
  ffmpeg: locateFfmpeg(),
  settings: () => ({ windowS: 10, thresholds: withDefaults({}) }),
  onRecord: (r) => {
    if (r.kind !== 'capture') return;
    counter.annotate(r);
    windows.push(r);
    if (r.occupancy) counts.push(r.occupancy.people);
  },
  onFrame: (jpeg) => counter.frame('cam', jpeg),
});
await mon.start();
await new Promise((r) => setTimeout(r, o.seconds * 1000));
await mon.stop();
await counter.stop();
process.stdout.write(`${JSON.stringify({ windows: windows.length, counts, countedAt })}\n`);
process.exit(0);

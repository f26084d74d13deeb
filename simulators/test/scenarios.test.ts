import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import { type RunningHub, startHub } from '@classroom/hub';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomRunner } from '../src/room/runner.js';
import { SCENARIO_NAMES, type ScenarioName, scenario, shifted } from '../src/room/scenarios.js';
import { type Verdict, verifyScenario } from '../src/room/verify.js';
import { processesMatching, removeDir, tempDir, waitFor } from './helpers.js';
import { SchemaTap } from './schema-tap.js';

// Every scenario end to end: synthetic media → real classroom-agent process → real hub → API
// (docs/simulators.md "Tests"). One hub, the scenarios side by side, short windows and a 6 s pace.
const PACE_S = 5;
const LEAD_IN_S = 8;
/** Records each room must have stored: more than a start-up's worth (capture windows, events, status). */
const MIN_RECORDS = 5;
const log = pino({ level: process.env.SIM_TEST_LOG ?? 'warn' });

let hub: RunningHub;
let dir: string;
/** Every message the real agents (and the hub) send, checked against protocol/schema by ajv. */
const tap = new SchemaTap();
const runners: RoomRunner[] = [];

beforeAll(async () => {
  dir = tempDir('scenarios-');
  // The hub's alarm hysteresis scaled down with the timeline (docs/hub-people.md).
  process.env.CLASSROOM_HUB_ALARM_RAISE_S = '1';
  process.env.CLASSROOM_HUB_ALARM_CLEAR_S = '1';
  hub = await startHub({
    dataDir: join(dir, 'hub'),
    host: '127.0.0.1',
    httpPort: 0,
    mqttPort: 0,
    adminToken: 'scenario-admin-token-0123456789',
    logLevel: 'error',
  });
  await tap.attach(hub);
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await hub?.stop();
  if (!process.env.SIM_KEEP) removeDir(dir);
});

interface Outcome {
  verdict: Verdict;
  leftovers: string[];
  /** The agent's log tail, shown when the room fails. */
  agentLog: string;
}

async function runScenario(name: ScenarioName): Promise<Outcome> {
  // The agent analyses a few seconds of each stream before it reports the source up, so the faults
  // start after a longer lead-in than one pace unit.
  const sc = shifted(scenario(name, PACE_S), LEAD_IN_S);
  const agent = `sc-${name}`;
  const runner = new RoomRunner(log, {
    agent,
    room: { id: `SC-${name}`, name: `Scenario ${name}`, building: 'Test', floor: '1', campus: 'CI' },
    scenario: sc,
    hub: {
      api: `http://127.0.0.1:${hub.httpPort}`,
      adminToken: hub.adminToken,
      mqttHost: '127.0.0.1',
      mqttPort: hub.mqttPort,
    },
    workDir: join(dir, name),
    ffmpegPath: locateFfmpeg().ffmpeg.path,
    windowS: 2,
    telemetryIntervalS: 2,
    // A stale window well above a loaded CI machine's stalls, well below the 12 s unplug.
    thresholds: { blackMinS: 2, frozenMinS: 2, silenceMinS: 2, sourceStaleS: 6 },
    // Seven rooms side by side on a small CI machine: keep each camera cheap to encode and decode.
    media: { width: 160, height: 120, fps: 8 },
  });
  runners.push(runner);
  await runner.start();
  await runner.finished();
  const observed = {
    availability: runner.observer.seen,
    get maxSession() {
      return runner.observer.maxSession;
    },
  };
  // Events of a fault's end and the last windows reach the hub a window or two after the timeline;
  // on a loaded machine a room that lost power may not have stored MIN_RECORDS by then, and its
  // agent keeps reporting while this waits.
  const settled = (v: Verdict) => v.ok && v.summary.records >= MIN_RECORDS;
  let verdict = await verifyScenario(runner.options.hub, agent, sc, observed);
  const deadline = Date.now() + 20_000;
  while (!settled(verdict) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    verdict = await verifyScenario(runner.options.hub, agent, sc, observed);
  }
  const ports = runner.udpPorts;
  await runner.stop();
  // No orphan: neither the generators nor the agent's own ffmpeg outlive the room.
  const leftovers = await waitFor(
    () => {
      const left = ports.flatMap((p) => processesMatching(`127.0.0.1:${p}`).map((x) => x.cmd));
      return left.length === 0 ? [] : null;
    },
    'no process left on the room ports',
    10_000,
  ).catch(() => ports.flatMap((p) => processesMatching(`127.0.0.1:${p}`).map((x) => x.cmd)));
  const agentLog = settled(verdict)
    ? ''
    : readFileSync(join(dir, name, 'agent.log'), 'utf8')
        .split('\n')
        .slice(-40)
        .join('\n');
  return { verdict, leftovers, agentLog };
}

// vitest runs at most 5 concurrent tests by default; the seven rooms run side by side here instead,
// and each test below asserts its own room's outcome.
let outcomes: Map<ScenarioName, Outcome>;
// SIM_SCENARIOS=black,frozen runs a subset while debugging; CI runs all. The scenarios with people
// need 1280×720 cameras and the detector: people.test.ts runs them.
const NAMES = SCENARIO_NAMES.filter(
  (n) =>
    scenario(n).people.length === 0 &&
    (!process.env.SIM_SCENARIOS || process.env.SIM_SCENARIOS.split(',').includes(n)),
);
beforeAll(async () => {
  const results = await Promise.all(NAMES.map(async (n) => [n, await runScenario(n)] as const));
  outcomes = new Map(results);
}, 58_000);

describe('room scenarios', () => {
  for (const name of NAMES) {
    it(`${name}: the hub shows the events, alarms and availability the timeline implies`, () => {
      const o = outcomes.get(name)!;
      expect(
        o.verdict.failures,
        `${JSON.stringify(o.verdict.summary)}\nagent log tail:\n${o.agentLog}`,
      ).toEqual([]);
      expect(
        o.verdict.summary.records,
        `${JSON.stringify(o.verdict.summary)}\nagent log tail:\n${o.agentLog}`,
      ).toBeGreaterThanOrEqual(MIN_RECORDS);
      expect(o.leftovers).toEqual([]);
    });
  }
});

describe('the wire', () => {
  it('every MQTT message the real agents sent matches its exported JSON Schema (ajv)', () => {
    const r = tap.report();
    expect(r.failures).toEqual([]);
    for (const name of ['state', 'birth', 'telemetry', 'records', 'ack', 'room-summary']) {
      expect(r.counts[name] ?? 0, `${name} messages seen: ${JSON.stringify(r.counts)}`).toBeGreaterThan(0);
    }
  });
});

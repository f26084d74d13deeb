import { join } from 'node:path';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import type { RunningHub } from '@classroom/hub';
import type { Logger } from 'pino';
import { FLEET_DEFAULTS, Fleet } from '../fleet/fleet.js';
import { logFormat } from '../log.js';
import { type HubTarget, hubSend } from '../room/hub-client.js';
import { RoomRunner } from '../room/runner.js';
import { repeated, type ScenarioName, scenario, shifted } from '../room/scenarios.js';
import { type ClassEmptyReport, WebhookSink } from '../room/webhook-sink.js';

export interface DemoOptions {
  dataDir: string;
  host: string;
  httpPort: number;
  mqttPort: number;
  adminToken?: string;
  /** Timeline unit of the real rooms, seconds (faults last two units). */
  paceS: number;
  /** Fleet rooms beside the real ones (12 rooms in all by default). */
  fleetRooms: number;
  /** Seconds a demo class may have nobody in the room before the hub sends `class.empty`. */
  classEmptyAfterS: number;
  /** Called with each `class.empty` the demo's webhook receiver gets (the CLI prints it). */
  onClassEmpty?: (report: ClassEmptyReport) => void;
}

export const DEMO_DEFAULTS = { paceS: 20, fleetRooms: 6, classEmptyAfterS: 60 } as const;

/**
 * The rooms with people: real agents counting a camera that shows a classroom, with a class on the
 * timetable every cycle (6 units): one where the class meets, one where nobody comes.
 */
const PEOPLE_ROOMS: Array<{ scenario: ScenarioName; id: string; building: string; floor: string }> = [
  { scenario: 'class-in-session', id: 'A-201', building: 'Building A', floor: '2' },
  { scenario: 'empty-class', id: 'B-201', building: 'Building B', floor: '2' },
];
/** Seats of the people rooms in the demo's room registry (the synthetic room has 34). */
const PEOPLE_ROOM_CAPACITY = 34;
/** Classes per people room: about an hour of the demo, at most this many (the timetable's limit is 200). */
const PEOPLE_CYCLES = 30;
/** Counting every 10 s: two detectors stay under a fifth of a core on the demo machine. */
const PEOPLE_INTERVAL_S = 10;

/** The real-agent rooms: each follows one fault timeline, starting a little after the previous one. */
const REAL_ROOMS: Array<{ scenario: ScenarioName; id: string; building: string; floor: string }> = [
  { scenario: 'black', id: 'A-101', building: 'Building A', floor: '1' },
  { scenario: 'silent', id: 'A-102', building: 'Building A', floor: '1' },
  { scenario: 'frozen', id: 'B-101', building: 'Building B', floor: '1' },
  { scenario: 'camera-unplugged', id: 'B-102', building: 'Building B', floor: '1' },
];

/**
 * `classroom-sim demo` (docs/simulators.md "classroom-sim demo"; DESIGN.md "Simulators"): a hub with its embedded defaults, four rooms with real agents on
 * synthetic media and scripted faults, and protocol-level fleet rooms whose faults come and go.
 */
export class Demo {
  hub: RunningHub | null = null;
  readonly rooms: RoomRunner[] = [];
  fleet: Fleet | null = null;
  sink: WebhookSink | null = null;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly log: Logger,
    private readonly options: DemoOptions,
  ) {}

  dashboardUrl(): string {
    const h = this.hub!;
    const host = h.config.host === '0.0.0.0' ? '127.0.0.1' : h.config.host;
    return `http://${host}:${h.httpPort}/#token=${encodeURIComponent(h.adminToken)}`;
  }

  async start(): Promise<void> {
    const o = this.options;
    const { startHub, classEmptyTickMs } = await import('@classroom/hub');
    // Compressed demo time: an empty class is reported after a minute, not the production 15.
    process.env.CLASSROOM_HUB_CLASS_EMPTY_AFTER_S = String(o.classEmptyAfterS);
    this.hub = await startHub({
      dataDir: join(o.dataDir, 'hub'),
      host: o.host,
      httpPort: o.httpPort,
      mqttPort: o.mqttPort,
      ...(o.adminToken ? { adminToken: o.adminToken } : {}),
      logFormat: logFormat(),
      // The demo's own webhook receiver listens on loopback (docs/hub-people.md "Webhooks").
      webhookAllowPrivate: true,
    });
    const loopback = o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
    const target: HubTarget = {
      api: `http://${loopback}:${this.hub.httpPort}`,
      adminToken: this.hub.adminToken,
      mqttHost: loopback,
      mqttPort: this.hub.mqttPort,
    };
    const ffmpegPath = locateFfmpeg().ffmpeg.path;
    const pace = o.paceS;
    REAL_ROOMS.forEach((r, i) => {
      const runner = new RoomRunner(this.log, {
        agent: `box-${r.id.toLowerCase()}`,
        room: { id: r.id, name: `Room ${r.id}`, building: r.building, floor: r.floor, campus: 'Main' },
        // Staggered, so the campus shows one fault after another rather than all at once.
        scenario: shifted(scenario(r.scenario, pace), (i * pace) / 2),
        hub: target,
        workDir: join(o.dataDir, 'sim', r.id),
        ffmpegPath,
        windowS: 5,
        telemetryIntervalS: 10,
        thresholds: { blackMinS: 3, frozenMinS: 3, silenceMinS: 3, sourceStaleS: 5 },
      });
      this.rooms.push(runner);
    });
    // The people rooms: a class every cycle, imported as each room starts. A class (3 units) must
    // outlast the class.empty delay plus the hub's look interval and a count's way to the hub.
    const unit = Math.max(
      pace,
      Math.ceil((o.classEmptyAfterS + classEmptyTickMs(o.classEmptyAfterS * 1000) / 1000 + 20) / 3),
    );
    const cycle = 6 * unit;
    PEOPLE_ROOMS.forEach((r, i) => {
      const sc = repeated(scenario(r.scenario, unit), Math.min(PEOPLE_CYCLES, Math.ceil(3600 / cycle)));
      this.rooms.push(
        new RoomRunner(this.log, {
          agent: `box-${r.id.toLowerCase()}`,
          room: { id: r.id, name: `Room ${r.id}`, building: r.building, floor: r.floor, campus: 'Main' },
          scenario: shifted(sc, (i * unit) / 4),
          hub: target,
          workDir: join(o.dataDir, 'sim', r.id),
          framesDir: join(o.dataDir, 'sim', 'frames'),
          ffmpegPath,
          windowS: 5,
          telemetryIntervalS: 10,
          occupancyIntervalS: PEOPLE_INTERVAL_S,
          thresholds: { blackMinS: 3, frozenMinS: 3, silenceMinS: 3, sourceStaleS: 5 },
        }),
      );
    });
    // The registry gives the rooms their capacity, so the utilization view shows seat use.
    await hubSend(target, 'PUT', '/api/rooms', {
      rooms: [...REAL_ROOMS, ...PEOPLE_ROOMS].map((r) => ({
        id: r.id,
        name: `Room ${r.id}`,
        building: r.building,
        floor: r.floor,
        campus: 'Main',
        capacity: PEOPLE_ROOMS.includes(r) ? PEOPLE_ROOM_CAPACITY : 60,
      })),
    });
    this.sink = new WebhookSink(this.log);
    if (o.onClassEmpty) this.sink.on('class.empty', o.onClassEmpty);
    await this.sink.register(target, await this.sink.start());
    await Promise.all(this.rooms.map((r) => r.start()));
    this.fleet = new Fleet(
      { log: this.log },
      {
        ...FLEET_DEFAULTS,
        brokerUrl: `mqtt://${loopback}:${this.hub.mqttPort}`,
        rooms: o.fleetRooms,
        prefix: 'fleet',
        roomPrefix: 'R',
        buildings: ['Building A', 'Building B'],
        campus: 'Main',
        api: target.api,
        adminToken: target.adminToken,
        stateFile: join(o.dataDir, 'sim', 'fleet-state.json'),
        seed: Date.now() % 100_000,
        windowS: 10,
        telemetryIntervalS: 10,
        mediaFaultRate: 0.04,
        disconnectsPerMin: 0.5,
        reconnectDelayS: 20,
      },
    );
    await this.fleet.start();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.fleet?.stop();
    await Promise.all(this.rooms.map((r) => r.stop()));
    await this.hub?.stop();
    await this.sink?.stop();
  }
}

import { join } from 'node:path';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import type { RunningHub } from '@classroom/hub';
import type { Logger } from 'pino';
import { FLEET_DEFAULTS, Fleet } from '../fleet/fleet.js';
import { logFormat } from '../log.js';
import type { HubTarget } from '../room/hub-client.js';
import { RoomRunner } from '../room/runner.js';
import { type ScenarioName, scenario, shifted } from '../room/scenarios.js';

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
}

export const DEMO_DEFAULTS = { paceS: 20, fleetRooms: 8 } as const;

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
    const { startHub } = await import('@classroom/hub');
    this.hub = await startHub({
      dataDir: join(o.dataDir, 'hub'),
      host: o.host,
      httpPort: o.httpPort,
      mqttPort: o.mqttPort,
      ...(o.adminToken ? { adminToken: o.adminToken } : {}),
      logFormat: logFormat(),
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
  }
}

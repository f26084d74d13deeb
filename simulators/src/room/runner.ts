import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Room, Thresholds } from '@classroom/protocol';
import type { Logger } from 'pino';
import { provisionAgent } from '../fleet/provision.js';
import { DEFAULT_MEDIA, type MediaFormat, PEOPLE_MEDIA, SyntheticMedia } from '../media/generator.js';
import { renderRoomFrames } from '../media/people.js';
import { spawnTethered, stopGroup } from '../proc.js';
import { FlakyProxy } from '../proxy.js';
import { type HubTarget, importClasses } from './hub-client.js';
import { AvailabilityObserver } from './observer.js';
import type { Scenario } from './scenarios.js';

/** The agent's bin, resolved from the installed @classroom/agent package. */
export function agentBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@classroom/agent')), '..', 'bin', 'classroom-agent.js');
}

/** A free UDP port on 127.0.0.1 (bound and released; the generator sends, the agent binds it). */
export async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

export interface RoomOptions {
  agent: string;
  room: Room;
  scenario: Scenario;
  hub: HubTarget;
  /** Agent data dir, config and logs go here. */
  workDir: string;
  ffmpegPath: string;
  windowS: number;
  telemetryIntervalS: number;
  thresholds: Thresholds;
  /**
   * Picture size, frame rate and sample rate of the synthetic devices (default DEFAULT_MEDIA, or
   * PEOPLE_MEDIA when the scenario has people).
   */
  media?: Partial<MediaFormat>;
  /** Seconds between people counts of a scenario with people (default 5, the agent's shortest). */
  occupancyIntervalS?: number;
  /** Where the room pictures with people are rendered and kept (default `<workDir>/frames`). */
  framesDir?: string;
}

/** Default count interval of a simulated room with people: the agent's shortest, so steps show. */
export const SIM_OCCUPANCY_INTERVAL_S = 5;

/**
 * One simulated classroom: synthetic camera and mic, a TCP proxy in front of the broker, a real
 * `classroom-agent` process, and the scenario's timeline of faults (docs/simulators.md "classroom-sim room --scenario NAME").
 */
export class RoomRunner {
  private media: SyntheticMedia | null = null;
  private proxy: FlakyProxy | null = null;
  private agentProc: ChildProcess | null = null;
  private timers: NodeJS.Timeout[] = [];
  private t0 = 0;
  private stopped = false;
  private configFile = '';
  readonly observer: AvailabilityObserver;
  readonly log: Logger;
  udpPorts: number[] = [];
  /** Wall-clock ms at which the scenario's time 0 was, once started. */
  startedAt = 0;

  constructor(
    log: Logger,
    readonly options: RoomOptions,
  ) {
    this.log = log.child({ module: 'room', room: options.room.id, scenario: options.scenario.name });
    this.observer = new AvailabilityObserver(this.log, options.hub, options.agent);
  }

  async start(): Promise<void> {
    const o = this.options;
    mkdirSync(o.workDir, { recursive: true });
    const cred = await provisionAgent(o.hub, { agent: o.agent, room: o.room });
    const [cameraPort, micPort] = [await freeUdpPort(), await freeUdpPort()];
    this.udpPorts = [cameraPort, micPort];
    this.proxy = new FlakyProxy(this.log, { targetHost: o.hub.mqttHost, targetPort: o.hub.mqttPort });
    const proxyPort = await this.proxy.start();
    const sc = o.scenario;
    const counting = sc.people.length > 0;
    const format = { ...(counting ? PEOPLE_MEDIA : DEFAULT_MEDIA), ...o.media };
    // The pictures are rendered before time 0, so the timeline is not late by the rendering.
    const frames = counting
      ? await renderRoomFrames(
          o.ffmpegPath,
          o.framesDir ?? join(o.workDir, 'frames'),
          sc.people.map((p) => p.count).concat(0),
          format.width,
          format.height,
        )
      : null;
    this.t0 = Date.now();
    this.startedAt = this.t0;
    this.media = new SyntheticMedia(
      { log: this.log, ffmpegPath: o.ffmpegPath, elapsedMs: () => this.elapsedMs() },
      {
        label: o.room.name,
        cameraPort,
        micPort,
        ...format,
        black: sc.black,
        frozen: sc.frozen,
        silent: sc.silent,
        people: frames ? { steps: sc.people, frames } : undefined,
      },
    );
    await this.media.start();
    if (sc.classes.length > 0) {
      const res = await importClasses(
        o.hub,
        o.room.id,
        sc.classes.map((c, i) => ({
          start: this.t0 + c.fromS * 1000,
          end: this.t0 + c.toS * 1000,
          title: `${sc.name} ${i + 1}`,
        })),
      );
      this.log.info({ event: 'scenario.timetable', periods: res.periods }, 'timetable imported into the hub');
    }
    this.configFile = join(o.workDir, 'agent.json');
    writeFileSync(
      this.configFile,
      JSON.stringify(
        {
          agent: o.agent,
          room: o.room,
          broker: {
            url: `mqtt://127.0.0.1:${proxyPort}`,
            username: cred.username,
            password: cred.password,
            keepaliveS: 5,
            reconnectMinMs: 300,
            reconnectMaxMs: 2000,
          },
          dataDir: join(o.workDir, 'data'),
          sources: [
            {
              id: 'cam',
              kind: 'camera',
              label: 'Camera',
              input: `udp://127.0.0.1:${cameraPort}`,
              // A test pattern holds no people: a dozen demo agents counting it would only spend
              // the demo machine's CPU (docs/occupancy.md "Config").
              occupancy: counting
                ? { enabled: true, intervalS: o.occupancyIntervalS ?? SIM_OCCUPANCY_INTERVAL_S }
                : { enabled: false, intervalS: 30 },
            },
            { id: 'mic', kind: 'microphone', label: 'Microphone', input: `udp://127.0.0.1:${micPort}` },
          ],
          windowS: o.windowS,
          telemetryIntervalS: o.telemetryIntervalS,
          thresholds: o.thresholds,
          // With a timetable the box would rest its sources between classes (docs/agent-media.md
          // "Duty cycle"); a simulated room watches on, so the count after the class shows too.
          ...(sc.classes.length > 0 ? { rest: { enabled: false } } : {}),
        },
        null,
        2,
      ),
    );
    this.startAgent();
    this.observer.start();
    this.schedule();
    this.log.info(
      { event: 'scenario.start', description: sc.description, durationS: sc.durationS, cameraPort, micPort },
      'scenario started',
    );
  }

  /** Resolves when the timeline is over (never, in loop mode, until stop). */
  async finished(): Promise<void> {
    const remaining = this.options.scenario.durationS * 1000 - this.elapsedMs();
    await new Promise((r) => setTimeout(r, Math.max(0, remaining)));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.observer.stop();
    if (this.agentProc) await stopGroup(this.agentProc, 'SIGTERM', 15_000);
    this.agentProc = null;
    await this.media?.stop();
    await this.proxy?.stop();
    this.log.info({ event: 'scenario.stop' }, 'room stopped');
  }

  agentPid(): number | undefined {
    return this.agentProc?.pid;
  }

  mediaPids(): number[] {
    return this.media?.pids() ?? [];
  }

  private elapsedMs(): number {
    return Date.now() - this.t0;
  }

  private startAgent(): void {
    const o = this.options;
    const out = createWriteStream(join(o.workDir, 'agent.log'), { flags: 'a' });
    const child = spawnTethered(process.execPath, [agentBin(), '--config', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    child.on('exit', (code, signal) => {
      if (this.agentProc === child) this.agentProc = null;
      if (!this.stopped && signal !== 'SIGKILL')
        this.log.error({ code, signal }, 'agent exited unexpectedly; see agent.log');
    });
    this.agentProc = child;
    this.log.info({ pid: child.pid }, 'agent started');
  }

  private at(seconds: number, step: string, fn: () => void | Promise<void>): void {
    const delay = seconds * 1000 - this.elapsedMs();
    this.timers.push(
      setTimeout(
        () => {
          if (this.stopped) return;
          this.log.info({ event: 'scenario.step', step, atS: Math.round(this.elapsedMs() / 100) / 10 }, step);
          Promise.resolve(fn()).catch((err: unknown) =>
            this.log.error({ err, step }, 'scenario step failed'),
          );
        },
        Math.max(0, delay),
      ),
    );
  }

  private schedule(): void {
    const sc = this.options.scenario;
    for (const s of sc.unplugged) {
      this.at(s.fromS, 'camera.unplug', () => this.media?.unplug('camera'));
      this.at(s.toS, 'camera.plug', () => this.media?.plug('camera'));
    }
    for (const s of sc.network) {
      this.at(s.fromS, 'network.cut', () => this.proxy?.cut());
      this.at(s.toS, 'network.restore', () => this.proxy?.restore());
    }
    for (const s of sc.powerLoss) {
      this.at(s.fromS, 'power.loss', async () => {
        const p = this.agentProc;
        this.agentProc = null;
        if (p) await stopGroup(p, 'SIGKILL', 0);
      });
      this.at(s.toS, 'power.restore', () => this.startAgent());
    }
    for (const s of [...sc.black, ...sc.frozen, ...sc.silent]) {
      this.at(s.fromS, 'media.fault.start', () => undefined);
      this.at(s.toS, 'media.fault.end', () => undefined);
    }
  }
}

import { join } from 'node:path';
import {
  type AgentSettings,
  type Birth,
  type CommandResult,
  type ConfigMessage,
  type SourceInfo,
  topics,
} from '@classroom/protocol';
import type { Logger } from 'pino';
import { Commands } from './commands.js';
import type { AgentConfig } from './config.js';
import type { FfmpegTools } from './ffmpeg/locate.js';
import { RestController } from './media/rest.js';
import type { MonitorStatus } from './media/types.js';
import type { PeopleDetector } from './occupancy/detector.js';
import { OccupancyCounter } from './occupancy/module.js';
import { Outbox } from './outbox.js';
import type { BackoffOptions } from './session/backoff.js';
import { Connection } from './session/connection.js';
import { Inbound } from './session/inbound.js';
import { Sender, type SenderOptions } from './session/sender.js';
import { SettingsStore } from './settings.js';
import { type CreateMonitor, Sources } from './sources.js';
import {
  type Durability,
  nextSession,
  openAgentDb,
  readMeta,
  rememberCommand,
  writeMeta,
} from './store/agent-db.js';
import type { Db } from './store/db.js';
import { DiskReserve } from './store/reserve.js';
import { TelemetryReporter } from './telemetry/telemetry.js';
import { VERSION } from './version.js';

export type { CreateMonitor } from './sources.js';

export interface AppOptions {
  config: AgentConfig;
  log: Logger;
  clock?: { now(): number };
  /** Injectable for tests; defaults to AGENT-MEDIA's ffmpeg monitor. */
  createMonitor?: CreateMonitor;
  /** The people detector of counting cameras (docs/occupancy.md); defaults to BlazeFace on WASM. */
  createDetector?: () => PeopleDetector;
  /** undefined: locate ffmpeg; null: run without it (sources report no-ffmpeg). */
  ffmpeg?: FfmpegTools | null;
  sender?: Partial<SenderOptions>;
  backoff?: Partial<BackoffOptions>;
  durability?: Durability;
  /** How long birth waits for a source's ffprobe result before sending what it has. */
  probeTimeoutMs?: number;
}

export interface AgentStatus {
  connected: boolean;
  /** The last connection error (refused, bad credentials, TLS), null once connected. */
  brokerError: string | null;
  session: number;
  sleeping: boolean;
  configVersion: number;
  ffmpeg: string | null;
  outbox: { records: number; bytes: number; droppedTotal: number; lastSeq: number };
  sources: MonitorStatus[];
  recordsNotStored: number;
  /** Hub→agent messages refused as malformed. */
  malformedInbound: number;
}

/** Wires config, outbox, MQTT session, monitors, telemetry and commands; stops them in reverse. */
export class AgentApp {
  private db: Db | null = null;
  private outbox!: Outbox;
  private sender!: Sender;
  private connection!: Connection;
  private telemetry!: TelemetryReporter;
  private commands!: Commands;
  private readonly settings: SettingsStore;
  private rest!: RestController;
  private sources!: Sources;
  private occupancy!: OccupancyCounter;
  /** Sources whose last birth carried a probe error: re-birth when they start running. */
  private readonly unprobed = new Set<string>();
  private inbound!: Inbound;
  private sleeping = false;
  private hubOnline: boolean | null = null;
  private recordsNotStored = 0;
  private readonly clock: { now(): number };
  private readonly log: Logger;
  private readonly agent: string;

  constructor(private readonly opts: AppOptions) {
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.log = opts.log;
    this.agent = opts.config.agent;
    this.settings = new SettingsStore(opts.config);
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    const db = await openAgentDb(config.dataDir, this.opts.durability);
    this.db = db;
    const warning = this.settings.load();
    if (warning) this.log.warn(warning);
    this.sleeping = (await readMeta(db, 'sleeping')) === 1;
    this.outbox = new Outbox({
      db,
      log: this.log,
      clock: this.clock,
      limits: config.outbox,
      reserve: new DiskReserve(join(config.dataDir, 'outbox.reserve'), config.outbox.reserveBytes),
    });
    this.inbound = new Inbound(this.agent, this.log, {
      hubState: (msg) => this.onHubState(msg.online),
      ack: (msg) => {
        this.sender.ack(msg.ranges).catch((err: unknown) => this.log.error({ err }, 'applying ack failed'));
      },
      command: (payload) => void this.commands.handle(payload),
      config: (msg) => this.onConfig(msg),
    });
    this.occupancy = new OccupancyCounter({
      log: this.log,
      sources: config.sources,
      ...(this.opts.createDetector ? { createDetector: this.opts.createDetector } : {}),
      onUnavailable: () => {
        if (this.connection?.isConnected()) void this.publishBirth(this.connection.currentSession());
      },
    });
    this.sources = new Sources({
      log: this.log,
      clock: this.clock,
      sources: config.sources,
      onFrame: (id, picture) => this.occupancy.frame(id, picture),
      ffmpeg: this.opts.ffmpeg,
      createMonitor: this.opts.createMonitor,
      settings: () => this.settings.monitorSettings(),
      onRecord: (record) => this.record(record),
      // A birth sent before a source's probe was known is sent again once it is (AGENT-MEDIA).
      onRunning: (id) => {
        if (!this.unprobed.delete(id) || !this.connection?.isConnected()) return;
        void this.publishBirth(this.connection.currentSession());
      },
    });
    await this.outbox.start();
    this.connection = new Connection({
      agent: this.agent,
      broker: config.broker,
      log: this.log,
      clock: this.clock,
      nextSession: () => nextSession(db),
      backoff: {
        baseMs: config.broker.reconnectMinMs,
        maxMs: config.broker.reconnectMaxMs,
        ...this.opts.backoff,
      },
      handlers: {
        onConnect: (session) => this.onConnect(session),
        onDisconnect: () => {
          this.hubOnline = null;
          this.sender.onDisconnected();
        },
        onMessage: (topic, payload) => this.inbound.route(topic, payload),
      },
    });
    this.sender = new Sender({
      outbox: this.outbox,
      log: this.log,
      clock: this.clock,
      options: this.opts.sender,
      publish: (payload) => this.connection.publish(topics.records(this.agent), payload, { qos: 1 }),
    });
    this.telemetry = new TelemetryReporter({
      log: this.log,
      clock: this.clock,
      dataDir: config.dataDir,
      ntpServer: config.ntpServer,
      intervalS: () => this.settings.current().telemetryIntervalS,
      outboxPending: () => this.outbox.depth().records,
      watch: () =>
        this.rest.active() ? config.sources.map((s) => ({ id: s.id, mode: this.rest.mode() })) : undefined,
      session: () => this.connection.currentSession(),
      publish: (msg) => {
        if (!this.connection.isConnected()) return;
        this.connection
          .publish(topics.telemetry(this.agent), JSON.stringify(msg), { qos: 0 })
          .catch((err: unknown) => this.log.debug({ err: String(err) }, 'telemetry not sent'));
      },
      onEvent: (event) => this.record(event),
    });
    this.commands = new Commands({
      log: this.log,
      clock: this.clock,
      remember: (id, now) => rememberCommand(db, id, now),
      publishResult: (r: CommandResult) =>
        this.connection.publish(topics.cmdResult(this.agent), JSON.stringify(r), { qos: 1 }),
      target: {
        rebirth: () => this.rebirth(),
        monitor: (id) => this.sources.find(id),
        applySettings: (s, v) => this.applySettings(s, v),
        sleep: () => this.sleep(),
        wake: () => this.wake(),
      },
    });
    // Off-hours duty cycle (docs/agent-media.md "Duty cycle"); never wakes a sleeping box.
    this.rest = new RestController({
      log: this.log.child({ module: 'rest' }),
      clock: {
        now: () => this.clock.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
      },
      settings: () => {
        const s = this.settings.current();
        // An on-slot must outlast the no-output watchdog (sourceStaleS + the 2 s analyze time), or a
        // dead source would be stopped before it is reported (docs/agent-media.md "Duty cycle").
        const onS = Math.max(s.rest.onS, s.thresholds.sourceStaleS + 5);
        return { rest: { ...s.rest, onS }, timetable: s.timetable };
      },
      target: {
        resume: () => (this.sleeping ? Promise.resolve() : this.sources.start()),
        pause: () => (this.sleeping ? Promise.resolve() : this.sources.stop()),
      },
      onMode: () => this.telemetry.soon(),
    });
    await this.sources.init();
    this.occupancy.start();
    this.sender.start();
    if (!this.sleeping) await this.sources.start();
    this.connection.start();
    this.telemetry.start();
    this.rest.start();
    this.log.info(
      { agent: this.agent, sources: config.sources.length, sleeping: this.sleeping },
      'agent started',
    );
  }

  /** SIGTERM path: `offline` goes out before the clean disconnect (DESIGN: state). */
  async stop(): Promise<void> {
    // Safe after a failed or missing start(): every part may be absent.
    this.telemetry?.stop();
    await this.rest?.stop();
    await this.sources?.stop();
    await this.occupancy?.stop();
    await this.outbox?.stop();
    if (this.connection) {
      const payload = JSON.stringify({
        v: 1,
        state: 'offline',
        session: this.connection.currentSession(),
        ts: this.clock.now(),
      });
      await this.connection.stop({ topic: topics.state(this.agent), payload });
    }
    this.sender?.stop();
    await this.db?.close();
    this.db = null;
    this.log.info('agent stopped');
  }

  status(): AgentStatus {
    return {
      connected: this.connection.isConnected(),
      brokerError: this.connection.status().lastError,
      session: this.connection.currentSession(),
      sleeping: this.sleeping,
      configVersion: this.settings.configVersion(),
      ffmpeg: this.sources.ffmpegMissing(),
      outbox: { ...this.outbox.depth(), lastSeq: this.outbox.lastSeq() },
      sources: this.sources.statusList(),
      recordsNotStored: this.recordsNotStored,
      malformedInbound: this.inbound.refusedCount(),
    };
  }

  /** For tests: sever the TCP connection as a network fault would. */
  dropConnection(): void {
    this.connection.drop();
  }

  private record(record: Parameters<Outbox['append']>[0]): void {
    if (record.kind === 'capture') this.occupancy.annotate(record);
    this.outbox.append(record).catch((err: unknown) => {
      this.recordsNotStored += 1;
      // Invalid records are a monitor bug; commit failures are a full or broken disk. Either way
      // the record is lost, so it is counted in status and logged with its reason.
      this.log.error(
        { err: (err as Error).message, kind: record.kind, source: record.source },
        'record not stored',
      );
    });
  }

  private async onConnect(session: number): Promise<void> {
    this.hubOnline = null;
    await this.publishState();
    await this.publishBirth(session);
    this.sender.onConnected(session);
    this.telemetry.soon();
  }

  private publishState(): Promise<void> {
    const state = this.sleeping ? 'sleeping' : 'online';
    const payload = JSON.stringify({
      v: 1,
      state,
      session: this.connection.currentSession(),
      ts: this.clock.now(),
    });
    return this.connection
      .publish(topics.state(this.agent), payload, { qos: 1, retain: true })
      .catch((err: unknown) => {
        this.log.warn({ err: String(err) }, 'state not published');
      });
  }

  private async publishBirth(session: number): Promise<void> {
    const { config } = this.opts;
    const s = this.settings.current();
    const sources: SourceInfo[] = await Promise.all(
      config.sources.map(async (src) => ({
        id: src.id,
        kind: src.kind,
        label: src.label ?? src.id,
        probe: await this.sources.probe(src.id, this.opts.probeTimeoutMs ?? 3000),
        ...this.occupancy.birthFields(src.id),
      })),
    );
    for (const src of sources) {
      if (src.probe?.error) this.unprobed.add(src.id);
      else this.unprobed.delete(src.id);
    }
    const birth: Birth = {
      v: 1,
      session,
      ts: this.clock.now(),
      agentVersion: VERSION,
      room: config.room,
      sources,
      configVersion: this.settings.configVersion(),
      telemetryIntervalS: s.telemetryIntervalS,
    };
    await this.connection
      .publish(topics.birth(this.agent), JSON.stringify(birth), { qos: 1 })
      .catch((err: unknown) => this.log.warn({ err: String(err) }, 'birth not published'));
  }

  private async rebirth(): Promise<void> {
    if (!this.connection.isConnected()) throw new Error('not connected');
    await this.publishState();
    await this.publishBirth(this.connection.currentSession());
  }

  private async applySettings(
    settings: AgentSettings,
    version: number | undefined,
    mode: 'merge' | 'replace' = 'merge',
  ): Promise<number> {
    const next = version ?? this.settings.configVersion() + 1;
    const before = this.settings.current().telemetryIntervalS;
    this.settings.apply(settings, next, mode);
    this.log.info({ configVersion: next, settings }, 'settings applied');
    if (this.settings.current().telemetryIntervalS !== before) this.telemetry.reschedule();
    this.rest.replan();
    // Birth carries configVersion and telemetryIntervalS, so the hub learns the change at once.
    if (this.connection.isConnected()) await this.publishBirth(this.connection.currentSession());
    return next;
  }

  private async sleep(): Promise<void> {
    if (this.db) await writeMeta(this.db, 'sleeping', 1);
    if (!this.sleeping) {
      this.sleeping = true;
      await this.sources.stop();
    }
    await this.publishState();
  }

  private async wake(): Promise<void> {
    if (this.db) await writeMeta(this.db, 'sleeping', 0);
    if (this.sleeping) {
      this.sleeping = false;
      await this.sources.start();
      this.rest.replan(true);
    }
    await this.publishState();
  }

  private onHubState(online: boolean): void {
    // A hub that restarted behind a broker that stayed up missed what we sent meanwhile.
    if (this.hubOnline === false && online) {
      this.log.info('hub back online: rebirth and replay unacked records');
      this.sender.rewind();
      void this.rebirth().catch((err: unknown) => this.log.warn({ err: String(err) }, 'rebirth failed'));
    }
    this.hubOnline = online;
  }

  private onConfig(msg: ConfigMessage): void {
    // Retained: it comes again on every connect, so only a newer version is applied.
    if (msg.version <= this.settings.configVersion()) return;
    this.applySettings(msg.config, msg.version, 'replace').catch((err: unknown) =>
      this.log.error({ err }, 'applying config failed'),
    );
  }
}

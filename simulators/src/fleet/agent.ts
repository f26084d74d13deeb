import {
  type Birth,
  type Command,
  parseMessage,
  type RecordT,
  type Room,
  type Telemetry,
  topics,
} from '@classroom/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { VERSION } from '../version.js';
import type { FleetHooks } from './hooks.js';
import { MemoryOutbox } from './outbox.js';
import { testCard } from './testcard.js';

export interface AgentIdentity {
  agent: string;
  room: Room;
  username: string;
  password: string;
}

/** What survives a fleet restart (persisted in the state file): the counters DESIGN says never go back. */
export interface AgentCounters {
  session: number;
  nextSeq: number;
  /** Oldest seq that was still unacked when the state was saved; reported as outbox.dropped next run. */
  pendingFrom: number | null;
}

type MediaFault = 'black' | 'frozen' | 'silent';

const BATCH = 200;

/**
 * One protocol-level agent: the MQTT session (session counter, will, retained state, birth),
 * telemetry, capture windows with an at-least-once outbox, acks and commands, with no ffmpeg.
 * It owns no timers: the fleet's shared scheduler calls `tick(now)`, which keeps 10,000 of them cheap.
 */
export class FleetAgent {
  client: MqttClient | null = null;
  connected = false;
  everConnected = false;
  sleeping = false;
  /** No new capture windows (the fleet is draining its outboxes); see Fleet.quiesce. */
  quiesced = false;
  nextTelemetryAt = 0;
  nextWindowAt = 0;
  lastSendAt = 0;
  replaying = false;
  reconnectAt = 0;
  readonly outbox: MemoryOutbox;
  readonly skewMs: number;
  private readonly faults = new Map<string, { type: MediaFault; untilWindow: number }>();
  private windowIndex = 0;
  private readonly seenCommands = new Set<string>();
  private skewReported = false;
  private readonly startedAt: number;

  constructor(
    readonly id: AgentIdentity,
    readonly counters: AgentCounters,
    private readonly hooks: FleetHooks,
    skewMs: number,
  ) {
    this.outbox = new MemoryOutbox(hooks.options.maxOutbox);
    this.skewMs = skewMs;
    this.startedAt = hooks.now();
  }

  /** The agent's own idea of time: the host clock plus its injected skew. */
  now(): number {
    return this.hooks.now() + this.skewMs;
  }

  connect(brokerUrl: string): void {
    this.counters.session++;
    this.hooks.dirty();
    const session = this.counters.session;
    const client = mqtt.connect(brokerUrl, {
      clientId: this.id.agent,
      username: this.id.username,
      password: this.id.password,
      protocolVersion: 4,
      clean: true,
      keepalive: this.hooks.options.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      will: {
        topic: topics.state(this.id.agent),
        payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session, ts: this.now() })),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    client.on('connect', () => this.onConnect(client, session));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => this.hooks.error(this, err));
    client.on('close', () => this.onClose(client));
  }

  /** Clean stop: retained `offline`, then disconnect (the will is not sent on a clean disconnect). */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.connected) {
      await client
        .publishAsync(topics.state(this.id.agent), this.json({ state: 'offline' }), { qos: 1, retain: true })
        .catch((err: Error) => this.hooks.error(this, err));
      this.hooks.stopped(this);
    }
    this.connected = false;
    await client.endAsync().catch((err: Error) => this.hooks.error(this, err));
  }

  /** Abrupt loss (fault injection): the socket dies without DISCONNECT, so the broker fires the will. */
  dropConnection(): void {
    const client = this.client;
    if (!client) return;
    client.stream?.destroy();
  }

  private onConnect(client: MqttClient, session: number): void {
    if (client !== this.client) return;
    this.connected = true;
    this.everConnected = true;
    this.outbox.rewind();
    this.replaying = this.outbox.size > 0;
    const a = this.id.agent;
    client.subscribe(
      [topics.ack(a), topics.cmd(a), topics.config(a), topics.hubState()],
      { qos: 1 },
      (err) => {
        if (err) this.hooks.error(this, err);
      },
    );
    client.publish(topics.state(a), this.json({ state: this.sleeping ? 'sleeping' : 'online', session }), {
      qos: 1,
      retain: true,
    });
    this.publishBirth();
    this.nextTelemetryAt = this.hooks.now();
    this.hooks.connected(this);
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const was = this.connected;
    this.connected = false;
    this.client = null;
    client.removeAllListeners('message');
    // The client is done; reconnection is a new client with the next session (and a will to match).
    client.end(true);
    this.hooks.disconnected(this, was);
  }

  publishBirth(): void {
    const birth: Birth = {
      v: 1,
      session: this.counters.session,
      ts: this.now(),
      agentVersion: `sim-${VERSION}`,
      room: this.id.room,
      sources: [
        {
          id: 'cam',
          kind: 'camera',
          label: 'Camera',
          probe: { codec: 'h264', width: 1280, height: 720, fps: 15 },
        },
        {
          id: 'mic',
          kind: 'microphone',
          label: 'Microphone',
          probe: { audioCodec: 'aac', sampleRate: 48000, channels: 1 },
        },
      ],
      configVersion: 0,
      telemetryIntervalS: this.hooks.options.telemetryIntervalS,
    };
    this.client?.publish(topics.birth(this.id.agent), JSON.stringify(birth), { qos: 1 });
  }

  /** Called by the fleet scheduler; does whatever is due. */
  tick(now: number): void {
    if (now >= this.nextWindowAt) {
      const windowMs = this.hooks.options.windowS * 1000;
      // Stay on the agent's own window grid; after a stall (a blocked event loop) skip ahead.
      this.nextWindowAt = Math.max(this.nextWindowAt + windowMs, now + windowMs / 2);
      this.closeWindow(now);
    }
    if (!this.connected) return;
    if (now >= this.nextTelemetryAt) {
      this.nextTelemetryAt = now + this.hooks.options.telemetryIntervalS * 1000;
      this.publishTelemetry(now);
    }
    if (this.outbox.size > 0 && now - this.lastSendAt > this.hooks.options.ackTimeoutMs) {
      // No ack for a while: resend everything unacked (the hub drops duplicates and acks again).
      this.outbox.rewind();
    }
    this.sendPending(now);
  }

  private publishTelemetry(now: number): void {
    const t: Telemetry = {
      v: 1,
      session: this.counters.session,
      ts: this.now(),
      cpuLoad: 0.1 + 0.2 * this.hooks.rng(),
      memUsedBytes: 600_000_000 + Math.floor(this.hooks.rng() * 100_000_000),
      memTotalBytes: 2_000_000_000,
      diskFreeBytes: 20_000_000_000,
      diskTotalBytes: 32_000_000_000,
      temperatureC: 45 + Math.round(this.hooks.rng() * 10),
      uptimeS: Math.round((now - this.startedAt) / 1000),
      clockOffsetMs: this.skewMs,
      outboxPending: this.outbox.size,
    };
    this.client?.publish(topics.telemetry(this.id.agent), JSON.stringify(t), { qos: 0 });
    this.hooks.stats.telemetry++;
  }

  /** Emits the capture windows of the window that just closed, and the events of fault transitions. */
  private closeWindow(now: number): void {
    if (this.sleeping || this.quiesced) return;
    this.windowIndex++;
    const o = this.hooks.options;
    const end = now + this.skewMs;
    const start = end - o.windowS * 1000;
    // Media faults come and go (demo and load tests), each one window-aligned.
    for (const [source, f] of this.faults) {
      if (this.windowIndex >= f.untilWindow) {
        this.faults.delete(source);
        this.addEvent(source, start, f.type === 'silent' ? 'audio.silence.end' : `video.${f.type}.end`);
      }
    }
    if (o.mediaFaultRate > 0 && this.hooks.rng() < o.mediaFaultRate) {
      const type: MediaFault = (['black', 'frozen', 'silent'] as const)[Math.floor(this.hooks.rng() * 3)]!;
      const source = type === 'silent' ? 'mic' : 'cam';
      if (!this.faults.has(source)) {
        this.faults.set(source, {
          type,
          untilWindow: this.windowIndex + 1 + Math.floor(this.hooks.rng() * 6),
        });
        this.addEvent(source, start, type === 'silent' ? 'audio.silence.start' : `video.${type}.start`);
      }
    }
    const cam = this.faults.get('cam')?.type;
    const silent = this.faults.get('mic') !== undefined;
    const r = this.hooks.rng;
    this.add({
      seq: 0,
      kind: 'capture',
      source: 'cam',
      start,
      end,
      video: {
        fps: 15,
        width: 1280,
        height: 720,
        keyframes: o.windowS,
        bitrateKbps: 1800 + Math.round(r() * 400),
        blackRatio: cam === 'black' ? 1 : 0,
        frozenRatio: cam === 'frozen' ? 1 : 0,
        motion: cam ? 0 : 0.05 + 0.2 * r(),
      },
    });
    this.add({
      seq: 0,
      kind: 'capture',
      source: 'mic',
      start,
      end,
      audio: silent
        ? { rmsDb: null, peakDb: null, loudnessLufs: null, silenceRatio: 1 }
        : {
            rmsDb: -32 + 8 * r(),
            peakDb: -12 + 6 * r(),
            loudnessLufs: -30 + 8 * r(),
            silenceRatio: 0.1 * r(),
          },
    });
    if (!this.skewReported && Math.abs(this.skewMs) > 2000) {
      this.skewReported = true;
      this.addEvent(null, end, 'clock.skew', { offsetMs: this.skewMs });
    }
    if (this.connected && o.malformedRate > 0 && r() < o.malformedRate) this.hooks.malformed(this);
  }

  private addEvent(
    source: string | null,
    ts: number,
    type: Extract<RecordT, { kind: 'event' }>['type'],
    detail: Record<string, string | number | boolean | null> = {},
  ): void {
    this.add({ seq: 0, kind: 'event', source, ts, type, detail });
  }

  /** Assigns the next seq (never reused) and queues the record. */
  add(record: RecordT): void {
    record.seq = this.counters.nextSeq++;
    this.hooks.dirty();
    this.hooks.stats.records++;
    const dropped = this.outbox.push(record);
    if (dropped) {
      this.hooks.stats.dropped += dropped.count;
      this.add({
        seq: 0,
        kind: 'event',
        source: null,
        ts: this.now(),
        type: 'outbox.dropped',
        detail: { count: dropped.count, fromSeq: dropped.fromSeq, toSeq: dropped.toSeq },
      });
    }
  }

  private sendPending(now: number): void {
    const client = this.client;
    if (!client) return;
    for (;;) {
      const batch = this.outbox.unsent(BATCH);
      if (batch.length === 0) break;
      const first = batch[0]!;
      const firstTs = first.kind === 'capture' ? first.end : first.ts;
      const historical = this.replaying && this.now() - firstTs > 2 * this.hooks.options.windowS * 1000;
      const payload = JSON.stringify({
        v: 1,
        session: this.counters.session,
        records: batch,
        ...(historical ? { historical: true } : {}),
      });
      client.publish(topics.records(this.id.agent), payload, { qos: 1 });
      this.hooks.stats.batches++;
      if (this.hooks.options.duplicateRate > 0 && this.hooks.rng() < this.hooks.options.duplicateRate) {
        client.publish(topics.records(this.id.agent), payload, { qos: 1 });
        this.hooks.stats.duplicates++;
      }
      this.outbox.sentThrough = batch[batch.length - 1]!.seq;
      this.lastSendAt = now;
    }
    if (this.outbox.size === 0) this.replaying = false;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const leaf = topic.slice(topic.indexOf('/', 'classroom/v1/'.length) + 1);
    if (leaf === 'ack') {
      const ack = parseMessage('ack', payload);
      if (!ack.ok) {
        this.hooks.badInbound(this, leaf, ack.error.message);
        return;
      }
      const n = this.outbox.ack(ack.value.ranges);
      this.hooks.stats.acked += n;
      this.lastSendAt = this.hooks.now();
      if (n > 0) this.hooks.dirty();
    } else if (leaf === 'cmd') {
      const cmd = parseMessage('cmd', payload);
      if (!cmd.ok) {
        this.hooks.badInbound(this, leaf, cmd.error.message);
        return;
      }
      this.onCommand(cmd.value);
    } else if (leaf === 'config') {
      const cfg = parseMessage('config', payload);
      if (!cfg.ok) {
        this.hooks.badInbound(this, leaf, cfg.error.message);
        return;
      }
    }
  }

  private onCommand(cmd: Command): void {
    const reply = (status: 'ok' | 'error', error?: string): void => {
      this.client?.publish(
        topics.cmdResult(this.id.agent),
        JSON.stringify({ v: 1, id: cmd.id, status, ...(error ? { error } : {}) }),
        { qos: 1 },
      );
    };
    if (this.seenCommands.has(cmd.id)) {
      reply('error', `command ${cmd.id} was already received`);
      return;
    }
    this.seenCommands.add(cmd.id);
    if (cmd.expiresAt < this.now()) {
      reply('error', `command ${cmd.id} expired`);
      return;
    }
    this.hooks.stats.commands++;
    switch (cmd.name) {
      case 'rebirth':
        this.publishBirth();
        reply('ok');
        return;
      case 'sleep':
      case 'wake':
        this.sleeping = cmd.name === 'sleep';
        this.client?.publish(
          topics.state(this.id.agent),
          this.json({ state: this.sleeping ? 'sleeping' : 'online' }),
          {
            qos: 1,
            retain: true,
          },
        );
        reply('ok');
        return;
      case 'snapshot':
        reply('error', 'a protocol-level simulated agent has no camera to snapshot');
        return;
      case 'thumbnail':
        // A test card stands in for the picture, so patrol walls can be tested with many rooms.
        testCard().then(
          (jpeg) =>
            this.client?.publish(
              topics.cmdResult(this.id.agent),
              JSON.stringify({
                v: 1,
                id: cmd.id,
                status: 'ok',
                data: {
                  source: 'cam',
                  contentType: 'image/jpeg',
                  bytes: jpeg.length,
                  at: this.now(),
                  jpeg: jpeg.toString('base64'),
                },
              }),
              { qos: 1 },
            ),
          (err: Error) => reply('error', `no test card: ${err.message}`.slice(0, 250)),
        );
        return;
      case 'restart-source':
      case 'set-config':
        reply('ok');
        return;
    }
  }

  private json(fields: Record<string, unknown>): string {
    return JSON.stringify({ v: 1, ...fields, session: this.counters.session, ts: this.now() });
  }
}

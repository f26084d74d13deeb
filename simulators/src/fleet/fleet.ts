import type { Room } from '@classroom/protocol';
import type { Logger } from 'pino';
import { type AgentIdentity, FleetAgent } from './agent.js';
import { emptyStats, type FleetHooks, type FleetOptions, type FleetStats } from './hooks.js';
import { malformedPayload } from './malformed.js';
import { mapLimit, provisionAgent } from './provision.js';
import { createRng, exponential, type Rng } from './random.js';
import { type FleetState, loadState, saveState } from './state.js';

export interface FleetConfig extends FleetOptions {
  brokerUrl: string;
  rooms: number;
  /** Agent ids are `<prefix>-00001`…; room ids `<roomPrefix>-00001`…. */
  prefix: string;
  roomPrefix: string;
  /** Index of the first room (so several fleets can share one hub without clashing). */
  firstIndex: number;
  buildings: string[];
  campus: string;
  /** Provisioning through the hub's API; without it every agent uses `password`. */
  api: string | null;
  adminToken: string | null;
  password: string;
  stateFile: string | null;
  seed: number;
  /** New connections a second (staggered so the broker is not hit by N handshakes at once). */
  connectRate: number;
  /** Connection attempts in flight at most. */
  maxPendingConnects: number;
  /** Abrupt connection losses across the fleet, per minute (the will fires; `lost`). */
  disconnectsPerMin: number;
  reconnectDelayS: number;
  tickMs: number;
  /** Fixed clock offsets (ms) for named agents, overriding the random draw of `clockSkewMs`. */
  skewByAgent?: Record<string, number>;
}

export const FLEET_DEFAULTS: Omit<FleetConfig, 'brokerUrl' | 'rooms'> = {
  windowS: 10,
  telemetryIntervalS: 30,
  keepaliveS: 60,
  ackTimeoutMs: 15_000,
  maxOutbox: 2000,
  duplicateRate: 0,
  malformedRate: 0,
  clockSkewMs: 0,
  mediaFaultRate: 0,
  prefix: 'sim',
  roomPrefix: 'SIM',
  firstIndex: 1,
  buildings: ['Building A', 'Building B'],
  campus: 'Main',
  api: null,
  adminToken: null,
  password: 'sim',
  stateFile: null,
  seed: 1,
  connectRate: 500,
  maxPendingConnects: 256,
  disconnectsPerMin: 0,
  reconnectDelayS: 3,
  tickMs: 250,
};

export interface FleetContext {
  log: Logger;
  now?: () => number;
}

/**
 * N protocol-level agents in one process. One shared scheduler drives all of them (no per-agent
 * timers besides MQTT.js keepalive), connects are rate-limited and staggered, and counters persist
 * in the state file so that sessions and seqs never go back across runs (DESIGN: MQTT protocol v1).
 */
export class Fleet {
  readonly agents: FleetAgent[] = [];
  readonly stats: FleetStats = emptyStats();
  private state: FleetState = { version: 1, agents: {} };
  private timer: NodeJS.Timeout | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private isDirty = false;
  private pendingConnects = 0;
  private connectCredit = 0;
  private nextDisconnectAt = Number.POSITIVE_INFINITY;
  private readonly rng: Rng;
  private readonly now: () => number;
  private readonly log: Logger;
  private errorsLogged = 0;
  private allOnlineLogged = false;
  /** Connected agents, kept as a counter: scanning 10,000 agents on every connect would be quadratic. */
  private online = 0;

  constructor(
    ctx: FleetContext,
    readonly config: FleetConfig,
  ) {
    this.log = ctx.log.child({ module: 'fleet' });
    this.now = ctx.now ?? Date.now;
    this.rng = createRng(config.seed);
  }

  identity(i: number): Omit<AgentIdentity, 'username' | 'password'> {
    const c = this.config;
    const n = String(c.firstIndex + i).padStart(5, '0');
    const building = c.buildings[i % c.buildings.length] ?? 'Building A';
    const room: Room = {
      id: `${c.roomPrefix}-${n}`,
      name: `${c.roomPrefix} ${n}`,
      building,
      floor: String(1 + (Math.floor(i / c.buildings.length) % 6)),
      campus: c.campus,
    };
    return { agent: `${c.prefix}-${n}`, room };
  }

  async start(): Promise<void> {
    const c = this.config;
    this.state = await loadState(c.stateFile);
    const ids = Array.from({ length: c.rooms }, (_, i) => this.identity(i));
    if (c.api && c.adminToken) {
      const target = { api: c.api, adminToken: c.adminToken };
      const missing = ids.filter((id) => !this.state.agents[id.agent]?.password);
      if (missing.length > 0)
        this.log.info({ count: missing.length }, 'fleet: provisioning agents through the API');
      await mapLimit(missing, 8, async (id) => {
        const cred = await provisionAgent(target, id);
        const saved = this.state.agents[id.agent] ?? { session: 0, nextSeq: 1, pendingFrom: null };
        saved.password = cred.password;
        this.state.agents[id.agent] = saved;
        this.isDirty = true;
      });
      await this.save();
    }
    const hooks = this.hooks();
    const t0 = this.now();
    for (const id of ids) {
      const saved = this.state.agents[id.agent] ?? { session: 0, nextSeq: 1, pendingFrom: null };
      this.state.agents[id.agent] = saved;
      const drawn = c.clockSkewMs > 0 ? Math.round((this.rng() * 2 - 1) * c.clockSkewMs) : 0;
      const skew = c.skewByAgent?.[id.agent] ?? drawn;
      const agent = new FleetAgent(
        { ...id, username: id.agent, password: saved.password ?? c.password },
        saved,
        hooks,
        skew,
      );
      agent.nextWindowAt = t0 + c.windowS * 1000 * (1 + this.rng());
      if (saved.pendingFrom !== null && saved.pendingFrom < saved.nextSeq) {
        // Records that were unacked when the last run stopped are gone: say so, as a real outbox would.
        const fromSeq = saved.pendingFrom;
        const toSeq = saved.nextSeq - 1;
        agent.add({
          seq: 0,
          kind: 'event',
          source: null,
          ts: agent.now(),
          type: 'outbox.dropped',
          detail: { count: toSeq - fromSeq + 1, fromSeq, toSeq },
        });
      }
      this.agents.push(agent);
    }
    if (c.disconnectsPerMin > 0)
      this.nextDisconnectAt = t0 + 1000 * exponential(this.rng, c.disconnectsPerMin / 60);
    this.timer = setInterval(() => this.tick(), c.tickMs);
    if (c.stateFile) this.saveTimer = setInterval(() => void this.save(), 5000);
    this.log.info({ rooms: c.rooms, broker: c.brokerUrl }, 'fleet: started');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.timer = null;
    this.saveTimer = null;
    await mapLimit(this.agents, 500, (a) => a.stop());
    await this.save();
    this.log.info({ stats: this.stats }, 'fleet: stopped');
  }

  /**
   * Stops making new records on every agent while delivery goes on (connects, resends, acks), so
   * that a test can wait for the outboxes to drain and compare what was produced with what was stored.
   */
  quiesce(): void {
    for (const a of this.agents) a.quiesced = true;
  }

  onlineCount(): number {
    return this.online;
  }

  pendingRecords(): number {
    let n = 0;
    for (const a of this.agents) n += a.outbox.size;
    return n;
  }

  /** Resolves once every agent is connected, or rejects after timeoutMs. */
  async waitAllOnline(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.onlineCount() < this.agents.length) {
      if (this.now() > deadline) {
        throw new Error(
          `only ${this.onlineCount()} of ${this.agents.length} fleet agents online after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private tick(): void {
    const now = this.now();
    const c = this.config;
    this.connectCredit = Math.min(c.connectRate, this.connectCredit + (c.connectRate * c.tickMs) / 1000);
    for (const agent of this.agents) {
      if (
        agent.client === null &&
        now >= agent.reconnectAt &&
        this.connectCredit >= 1 &&
        this.pendingConnects < c.maxPendingConnects
      ) {
        this.connectCredit--;
        this.pendingConnects++;
        this.stats.connects++;
        agent.connect(c.brokerUrl);
      }
      agent.tick(now);
    }
    while (now >= this.nextDisconnectAt) {
      this.nextDisconnectAt += 1000 * exponential(this.rng, c.disconnectsPerMin / 60);
      const victim = this.agents[Math.floor(this.rng() * this.agents.length)];
      if (victim?.connected) {
        this.stats.injectedDisconnects++;
        victim.dropConnection();
      }
    }
    for (const a of this.agents) {
      const oldest = a.outbox.oldestSeq();
      a.counters.pendingFrom = oldest;
    }
  }

  private async save(): Promise<void> {
    if (!this.config.stateFile || !this.isDirty) return;
    this.isDirty = false;
    try {
      await saveState(this.config.stateFile, this.state);
    } catch (err) {
      this.isDirty = true;
      this.log.error({ err, file: this.config.stateFile }, 'fleet: could not save state');
    }
  }

  private hooks(): FleetHooks {
    return {
      options: this.config,
      stats: this.stats,
      now: this.now,
      rng: this.rng,
      dirty: () => {
        this.isDirty = true;
      },
      connected: () => {
        this.online++;
        this.pendingConnects = Math.max(0, this.pendingConnects - 1);
        if (!this.allOnlineLogged && this.onlineCount() === this.agents.length) {
          this.allOnlineLogged = true;
          this.log.info({ agents: this.agents.length }, 'fleet: all agents online');
        }
      },
      disconnected: (agent, wasConnected) => {
        if (wasConnected) {
          this.stats.disconnects++;
          this.online--;
        } else this.pendingConnects = Math.max(0, this.pendingConnects - 1);
        const base = this.config.reconnectDelayS * 1000;
        agent.reconnectAt = this.now() + base * (0.5 + this.rng());
      },
      stopped: () => {
        this.online--;
      },
      error: (agent, err) => {
        this.stats.errors++;
        // Log the first few in full; past that a fleet of thousands would drown the log.
        if (this.errorsLogged++ < 20)
          this.log.warn({ agent: agent.id.agent, err: err.message }, 'fleet: agent error');
      },
      badInbound: (agent, leaf, reason) => {
        this.stats.badInbound++;
        this.log.warn(
          { agent: agent.id.agent, leaf, reason },
          'fleet: refused a malformed message from the hub',
        );
      },
      malformed: (agent) => {
        const m = malformedPayload(agent, this.rng);
        // Counted once the broker has taken it (PUBACK): one sent just before an injected
        // disconnect can be lost with the connection, and the hub cannot count what it never got.
        agent.client?.publish(m.topic, m.payload, { qos: 1 }, (err) => {
          if (err) this.stats.malformedLost++;
          else this.stats.malformed++;
        });
      },
    };
  }
}

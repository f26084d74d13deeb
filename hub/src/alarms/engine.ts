// Hysteretic alarm state machine (docs/hub-people.md "Alarms"): a condition must hold for raiseAfterMs before an alarm
// is raised and be gone for clearAfterMs before it clears. A condition that changes flapThreshold
// times within flapWindowMs is "flapping": it is raised at once and held until quiet for
// flapClearMs, so a flaky camera produces one alarm, not a storm of transitions and webhooks.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../context.js';
import type { PeopleBus } from './events.js';
import type { AlarmStore } from './store.js';
import { type Alarm, type AlarmState, type AlarmType, alarmKey, MEDIA_ALARM_TYPES } from './types.js';

export interface AlarmTiming {
  raiseAfterMs: number;
  clearAfterMs: number;
  flapWindowMs: number;
  /** Condition changes within the window that mark a key as flapping. */
  flapThreshold: number;
  flapClearMs: number;
}

export const DEFAULT_ALARM_TIMING: AlarmTiming = {
  raiseAfterMs: 30_000,
  clearAfterMs: 60_000,
  flapWindowMs: 10 * 60_000,
  flapThreshold: 6,
  flapClearMs: 10 * 60_000,
};

/**
 * Alarm rows (one per source and type) an agent may have (docs/hub.md "Per-agent bounds"): room for a full
 * birth of 16 sources × 4 media types plus the agent's own alarms, and not one row per made-up source id.
 */
export const MAX_ALARM_KEYS_PER_AGENT = 100;

interface Condition {
  agent: string;
  source: string | null;
  type: AlarmType;
  room: string | null;
  active: boolean;
  changes: number[];
  flapping: boolean;
  detail: Record<string, unknown>;
  timer: NodeJS.Timeout | undefined;
}

export class AckError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

export class AlarmEngine {
  private readonly conditions = new Map<string, Condition>();
  /** The same conditions by agent, so a birth or sleep of one agent does not scan the fleet's. */
  private readonly byAgent = new Map<string, Map<string, Condition>>();
  private readonly alarms = new Map<string, Alarm>();
  private readonly byId = new Map<string, Alarm>();
  private readonly sleeping = new Set<string>();
  /** Rooms an operator put in maintenance through the API. */
  private readonly maintenance = new Set<string>();
  /** Open (not cleared) alarms per room, kept on every transition so summaries need not scan. */
  private readonly openPerRoom = new Map<string | null, number>();
  /** Persisting is serialised so history is written in transition order. */
  private chain: Promise<void> = Promise.resolve();
  /** Alarm rows per agent, for MAX_ALARM_KEYS_PER_AGENT. */
  private readonly alarmRows = new Map<string, number>();

  constructor(
    private readonly store: AlarmStore,
    private readonly clock: Clock,
    private readonly bus: PeopleBus,
    private readonly log: Logger,
    private readonly timing: AlarmTiming = DEFAULT_ALARM_TIMING,
    /** Called when a condition is refused because its agent has MAX_ALARM_KEYS_PER_AGENT alarm keys. */
    private readonly onLimit: (agent: string) => void = () => undefined,
  ) {}

  /** Alarm rows plus pending conditions (not yet alarms) of an agent. */
  private keysOf(agent: string): number {
    let n = this.alarmRows.get(agent) ?? 0;
    for (const key of this.byAgent.get(agent)?.keys() ?? []) if (!this.alarms.has(key)) n++;
    return n;
  }

  private addAlarmRow(alarm: Alarm): void {
    this.alarms.set(alarmKey(alarm.agent, alarm.source, alarm.type), alarm);
    this.byId.set(alarm.id, alarm);
    this.alarmRows.set(alarm.agent, (this.alarmRows.get(alarm.agent) ?? 0) + 1);
  }

  async load(): Promise<void> {
    for (const alarm of await this.store.loadAll()) {
      const key = alarmKey(alarm.agent, alarm.source, alarm.type);
      this.addAlarmRow(alarm);
      this.countOpen(alarm, 1);
      // After a restart the hub has no evidence either way: an open alarm stays open until the
      // agent tells us otherwise (a new birth resets media conditions, see resetMedia).
      if (alarm.state !== 'cleared') {
        this.putCondition(key, this.newCondition(alarm.agent, alarm.source, alarm.type, alarm.room, true));
      }
    }
  }

  stop(): void {
    for (const c of this.conditions.values()) this.clock.clearTimeout(c.timer);
  }

  /** Waits until every transition so far is stored. */
  flush(): Promise<void> {
    return this.chain;
  }

  list(): Alarm[] {
    return [...this.alarms.values()];
  }

  getById(id: string): Alarm | undefined {
    return this.byId.get(id);
  }

  /** Open alarms whose room is `room`, in O(1). */
  openCountInRoom(room: string | null): number {
    return this.openPerRoom.get(room) ?? 0;
  }

  private countOpen(alarm: Alarm, delta: 1 | -1): void {
    if (alarm.state === 'cleared') return;
    const n = (this.openPerRoom.get(alarm.room) ?? 0) + delta;
    if (n > 0) this.openPerRoom.set(alarm.room, n);
    else this.openPerRoom.delete(alarm.room);
  }

  openCount(filter?: (a: Alarm) => boolean): number {
    let n = 0;
    for (const a of this.alarms.values()) if (a.state !== 'cleared' && (!filter || filter(a))) n++;
    return n;
  }

  /** Marks an agent's room as sleeping (maintenance / off-hours): no media alarms while it lasts. */
  setSleeping(agent: string, sleeping: boolean): void {
    if (sleeping === this.sleeping.has(agent)) return;
    if (sleeping) {
      this.sleeping.add(agent);
      for (const [key, c] of [...(this.byAgent.get(agent) ?? [])]) {
        if (!MEDIA_ALARM_TYPES.has(c.type)) continue;
        this.clock.clearTimeout(c.timer);
        this.dropCondition(key);
        const alarm = this.alarms.get(key);
        if (alarm && alarm.state !== 'cleared') this.transition(alarm, 'cleared', null, 'room sleeping');
      }
    } else {
      this.sleeping.delete(agent);
    }
  }

  /** Media alarms are suppressed for a sleeping agent or a room in maintenance (DESIGN.md "Alarms"). */
  private suppressed(agent: string, room: string | null, type: AlarmType): boolean {
    if (!MEDIA_ALARM_TYPES.has(type)) return false;
    return this.sleeping.has(agent) || (room !== null && this.maintenance.has(room));
  }

  inMaintenance(room: string): boolean {
    return this.maintenance.has(room);
  }

  /** Puts a room in or out of maintenance: open media alarms of the room clear, none are raised. */
  setMaintenance(room: string, on: boolean): void {
    if (on === this.maintenance.has(room)) return;
    if (!on) {
      this.maintenance.delete(room);
      return;
    }
    this.maintenance.add(room);
    for (const [key, c] of this.conditions) {
      if (c.room !== room || !MEDIA_ALARM_TYPES.has(c.type)) continue;
      this.clock.clearTimeout(c.timer);
      this.dropCondition(key);
    }
    for (const alarm of this.alarms.values()) {
      if (alarm.room === room && MEDIA_ALARM_TYPES.has(alarm.type) && alarm.state !== 'cleared') {
        this.transition(alarm, 'cleared', null, 'room in maintenance');
      }
    }
  }

  /** The agent restarted its monitors (new session): earlier media conditions no longer hold. */
  resetMedia(agent: string): void {
    for (const c of [...(this.byAgent.get(agent)?.values() ?? [])]) {
      if (MEDIA_ALARM_TYPES.has(c.type) && c.active) {
        this.signal({ agent, source: c.source, type: c.type, room: c.room, active: false });
      }
    }
  }

  /** Reports whether a condition currently holds; the engine decides when that becomes an alarm. */
  signal(s: {
    agent: string;
    source: string | null;
    type: AlarmType;
    room: string | null;
    active: boolean;
    detail?: Record<string, unknown>;
    /** Skip hysteresis (schedule checks are already evaluated over a window). */
    immediate?: boolean;
  }): void {
    const key = alarmKey(s.agent, s.source, s.type);
    if (s.active && this.suppressed(s.agent, s.room, s.type)) return;
    let c = this.conditions.get(key);
    if (!c) {
      if (!s.active) return;
      if (!this.alarms.has(key) && this.keysOf(s.agent) >= MAX_ALARM_KEYS_PER_AGENT) {
        this.onLimit(s.agent);
        return;
      }
      c = this.newCondition(s.agent, s.source, s.type, s.room, false);
      this.putCondition(key, c);
    }
    if (s.room) c.room = s.room;
    if (s.detail) c.detail = s.detail;
    if (c.active === s.active) return;
    const now = this.clock.now();
    c.active = s.active;
    c.changes.push(now);
    while (c.changes.length > 0 && c.changes[0]! < now - this.timing.flapWindowMs) c.changes.shift();
    if (c.changes.length >= this.timing.flapThreshold && !c.flapping) {
      c.flapping = true;
      this.log.warn({ agent: c.agent, source: c.source, type: c.type }, 'alarm condition flapping');
    }
    this.clock.clearTimeout(c.timer);
    c.timer = undefined;
    const alarm = this.alarms.get(key);
    const open = alarm !== undefined && alarm.state !== 'cleared';
    if (c.active) {
      if (open) {
        if (c.flapping && !alarm.flapping) this.update(alarm, { flapping: true });
        return;
      }
      const delay = s.immediate || c.flapping ? 0 : this.timing.raiseAfterMs;
      if (delay === 0) this.raise(key, c);
      else c.timer = this.clock.setTimeout(() => this.raise(key, c), delay);
    } else if (open) {
      const delay = s.immediate ? 0 : c.flapping ? this.timing.flapClearMs : this.timing.clearAfterMs;
      if (delay === 0) this.clear(key, c);
      else c.timer = this.clock.setTimeout(() => this.clear(key, c), delay);
    }
  }

  /** raise → ack (who, note); only an active alarm can be acknowledged. */
  async ack(id: string, who: string, note: string | null): Promise<Alarm> {
    const alarm = this.byId.get(id);
    if (!alarm) throw new AckError('not_found', `alarm ${id} not found`);
    if (alarm.state !== 'active') throw new AckError('conflict', `alarm ${id} is ${alarm.state}, not active`);
    alarm.ackedAt = this.clock.now();
    alarm.ackedBy = who;
    alarm.ackNote = note;
    this.transition(alarm, 'acked', who, note);
    await this.flush();
    return alarm;
  }

  private putCondition(key: string, c: Condition): void {
    this.conditions.set(key, c);
    let mine = this.byAgent.get(c.agent);
    if (!mine) {
      mine = new Map();
      this.byAgent.set(c.agent, mine);
    }
    mine.set(key, c);
  }

  private dropCondition(key: string): void {
    const c = this.conditions.get(key);
    if (!c) return;
    this.conditions.delete(key);
    const mine = this.byAgent.get(c.agent);
    mine?.delete(key);
    if (mine?.size === 0) this.byAgent.delete(c.agent);
  }

  private newCondition(
    agent: string,
    source: string | null,
    type: AlarmType,
    room: string | null,
    active: boolean,
  ): Condition {
    return { agent, source, type, room, active, changes: [], flapping: false, detail: {}, timer: undefined };
  }

  private raise(key: string, c: Condition): void {
    c.timer = undefined;
    if (!c.active) return;
    if (this.suppressed(c.agent, c.room, c.type)) return;
    const now = this.clock.now();
    let alarm = this.alarms.get(key);
    if (alarm && alarm.state !== 'cleared') return;
    if (!alarm) {
      alarm = {
        id: randomUUID(),
        agent: c.agent,
        room: c.room,
        source: c.source,
        type: c.type,
        state: 'cleared',
        flapping: c.flapping,
        detail: c.detail,
        raisedAt: now,
        ackedAt: null,
        ackedBy: null,
        ackNote: null,
        clearedAt: null,
        updatedAt: now,
        raiseCount: 0,
      };
      this.addAlarmRow(alarm);
      this.transitionFrom(alarm, null, 'active', null, c.flapping ? 'flapping' : null, c);
      return;
    }
    this.transitionFrom(alarm, alarm.state, 'active', null, c.flapping ? 'flapping' : null, c);
  }

  private clear(key: string, c: Condition): void {
    c.timer = undefined;
    if (c.active) return;
    const alarm = this.alarms.get(key);
    // The condition is stable again: forget it, so flap history starts over next time.
    this.dropCondition(key);
    if (alarm && alarm.state !== 'cleared') this.transition(alarm, 'cleared', null, null);
  }

  private update(alarm: Alarm, patch: Partial<Alarm>): void {
    Object.assign(alarm, patch, { updatedAt: this.clock.now() });
  }

  private transition(alarm: Alarm, to: AlarmState, who: string | null, note: string | null): void {
    this.transitionFrom(alarm, alarm.state, to, who, note, undefined);
  }

  private transitionFrom(
    alarm: Alarm,
    from: AlarmState | null,
    to: AlarmState,
    who: string | null,
    note: string | null,
    c: Condition | undefined,
  ): void {
    const now = this.clock.now();
    // `from` is null for a new alarm, which was never counted; its placeholder state is 'cleared'.
    this.countOpen(alarm, -1);
    alarm.state = to;
    alarm.updatedAt = now;
    if (to === 'active') {
      alarm.raisedAt = now;
      alarm.raiseCount += 1;
      alarm.clearedAt = null;
      alarm.ackedAt = null;
      alarm.ackedBy = null;
      alarm.ackNote = null;
      if (c) {
        alarm.flapping = c.flapping;
        alarm.detail = c.detail;
        alarm.room = c.room ?? alarm.room;
      }
    } else if (to === 'cleared') {
      alarm.clearedAt = now;
    }
    this.countOpen(alarm, 1);
    this.log.info(
      { alarm: alarm.id, agent: alarm.agent, source: alarm.source, type: alarm.type, from, to },
      'alarm transition',
    );
    const snapshot = { ...alarm, detail: { ...alarm.detail } };
    const entry = { ts: now, from, to, who, note };
    this.chain = this.chain
      .then(() => this.store.save(snapshot, entry))
      .catch((err: unknown) =>
        this.log.error({ err, alarm: alarm.id, to }, 'storing alarm transition failed'),
      );
    this.bus.emit('alarm.transition', { alarm: snapshot, from, to, ts: now, who, note });
  }
}

// Alarm vocabulary shared by the people-facing modules (DESIGN.md "Alarms", docs/hub-people.md "Alarms").

export const ALARM_TYPES = [
  'agent.offline',
  /** The agent's birth names another room than the provisioned one (DESIGN.md "A box is only itself"). */
  'agent.room_mismatch',
  'source.down',
  'video.black',
  'video.frozen',
  'audio.silent',
  'disk.low',
  'schedule.no-capture',
  'schedule.precheck',
] as const;
export type AlarmType = (typeof ALARM_TYPES)[number];

/** Alarms about the media of a source; a sleeping (maintenance) room raises none of these. */
export const MEDIA_ALARM_TYPES: ReadonlySet<AlarmType> = new Set([
  'source.down',
  'video.black',
  'video.frozen',
  'audio.silent',
]);

export const ALARM_STATES = ['active', 'acked', 'cleared'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export interface Alarm {
  id: string;
  agent: string;
  room: string | null;
  /** The source concerned, or null for agent/room-level alarms. */
  source: string | null;
  type: AlarmType;
  state: AlarmState;
  flapping: boolean;
  detail: Record<string, unknown>;
  raisedAt: number;
  ackedAt: number | null;
  ackedBy: string | null;
  ackNote: string | null;
  clearedAt: number | null;
  updatedAt: number;
  /** How many times this (agent, source, type) has been raised. */
  raiseCount: number;
}

export interface AlarmTransition {
  alarm: Alarm;
  from: AlarmState | null;
  to: AlarmState;
  ts: number;
  who: string | null;
  note: string | null;
}

export interface AlarmHistoryEntry {
  ts: number;
  from: AlarmState | null;
  to: AlarmState;
  who: string | null;
  note: string | null;
}

export function alarmKey(agent: string, source: string | null, type: string): string {
  return `${agent}\u0000${source ?? ''}\u0000${type}`;
}

// Contract between the source monitors (media/) and the rest of the agent (session, outbox, commands).
import type { CaptureRecord, EventRecord, Probe, SourceKind, Thresholds } from '@classroom/protocol';
import type { Logger } from 'pino';
import type { FfmpegTools } from '../ffmpeg/locate.js';

/** One configured source, as in the agent config's `sources[]`. */
export interface SourceConfig {
  id: string;
  kind: SourceKind;
  /** Any ffmpeg input: rtsp://, udp://, tcp://, /dev/video0, alsa:hw:1, a file, or lavfi:<graph>. */
  input: string;
  label?: string;
  /** People counting (docs/occupancy.md): the monitor then also hands out full-size frames. */
  occupancy?: { enabled: boolean; intervalS: number };
}

/** Settings that may change at run time (set-config) without restarting the agent. */
export interface MonitorSettings {
  windowS: number;
  thresholds: Required<Thresholds>;
}

/** A record before the outbox assigns its seq. */
export type CaptureWindow = Omit<CaptureRecord, 'seq'>;
export type SourceEvent = Omit<EventRecord, 'seq'>;

export type MonitorState = 'starting' | 'running' | 'down' | 'stopped' | 'no-ffmpeg';

export interface MonitorStatus {
  id: string;
  state: MonitorState;
  /** Why it is down, e.g. "ffmpeg not found (…)" or "no output for 10 s". */
  reason?: string;
  since: number;
  restarts: number;
  /** How video is decoded once probed (docs/agent-media.md "Cost"): keyframes only or low-fps. */
  decode?: 'keyframes' | 'lowfps';
}

export interface MonitorContext {
  log: Logger;
  clock: { now(): number };
  /** Null when ffmpeg could not be located: the monitor reports state no-ffmpeg and never throws. */
  ffmpeg: FfmpegTools | null;
  settings: () => MonitorSettings;
  /** Called for every closed window and every state-transition event, in order. */
  onRecord: (record: CaptureWindow | SourceEvent) => void;
  onStatus?: (status: MonitorStatus) => void;
  /**
   * The analysed picture as the people counter needs it, every `source.occupancy.intervalS`: a PPM
   * at up to COUNT_WIDTH (docs/occupancy.md "Frames"), from the same ffmpeg and decode as the analysis.
   */
  onFrame?: (picture: Buffer, at: number) => void;
}

export interface SourceMonitor {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** restart-source: stop ffmpeg and start it again now. */
  restart(): Promise<void>;
  /** Latest decoded keyframe as JPEG, from the running ffmpeg (never opens the source again). */
  snapshot(): Promise<Buffer>;
  /**
   * Latest patrol-wall thumbnail (about 320 px wide JPEG) with the time it was made, from the same
   * running ffmpeg; waits briefly for the first one after a start.
   */
  thumbnail(): Promise<{ jpeg: Buffer; at: number }>;
  /** ffprobe result, cached from start; re-probes when asked. */
  probe(refresh?: boolean): Promise<Probe>;
  status(): MonitorStatus;
}

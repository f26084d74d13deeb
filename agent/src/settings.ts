import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentSettings, Thresholds } from '@classroom/protocol';
import type { AgentConfig } from './config.js';
import { parseSettings } from './config.js';
import { withDefaults } from './media/defaults.js';
import { type ClassPeriod, DEFAULT_REST, type RestSettings } from './media/rest.js';
import type { MonitorSettings } from './media/types.js';

export interface EffectiveSettings {
  windowS: number;
  telemetryIntervalS: number;
  thresholds: Required<Thresholds>;
  rest: RestSettings;
  /** The hub's timetable of the room when it sent one, else the config file's. */
  timetable: readonly ClassPeriod[] | undefined;
}

interface Persisted {
  version: number;
  settings: AgentSettings;
}

/**
 * The runtime-changeable settings (set-config, retained `config`). The config file stays the
 * operator's; remote changes are persisted beside the outbox in dataDir/settings.json and laid
 * over the file's values at start, so they survive restarts (docs/agent.md "Commands"; DESIGN.md `set-config`).
 */
export class SettingsStore {
  private version = 0;
  private overlay: AgentSettings = {};
  private readonly file: string;

  constructor(private readonly config: AgentConfig) {
    this.file = join(config.dataDir, 'settings.json');
  }

  /** Loads the persisted overlay; a damaged file is reported and ignored, never fatal. */
  load(): string | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return null;
    }
    try {
      const raw = JSON.parse(text) as Persisted;
      const r = parseSettings(raw.settings);
      if (!r.ok || !Number.isInteger(raw.version) || raw.version < 0) {
        return `ignoring ${this.file}: ${r.ok ? 'bad version' : r.errors.join('; ')}`;
      }
      this.version = raw.version;
      this.overlay = r.settings;
      return null;
    } catch (err) {
      return `ignoring ${this.file}: ${(err as Error).message}`;
    }
  }

  configVersion(): number {
    return this.version;
  }

  current(): EffectiveSettings {
    return {
      windowS: this.overlay.windowS ?? this.config.windowS,
      telemetryIntervalS: this.overlay.telemetryIntervalS ?? this.config.telemetryIntervalS,
      thresholds: withDefaults({ ...this.config.thresholds, ...this.overlay.thresholds }),
      rest: { ...DEFAULT_REST, ...this.config.rest, ...this.overlay.rest },
      timetable: this.overlay.timetable ?? this.config.timetable,
    };
  }

  monitorSettings(): MonitorSettings {
    const s = this.current();
    return { windowS: s.windowS, thresholds: s.thresholds };
  }

  /**
   * Applies and persists a validated change. `merge` (set-config) patches the current remote
   * settings field by field; `replace` (the retained config topic, which carries the hub's whole
   * desired state) makes them exactly `settings`, so a field the hub dropped returns to the file's value.
   */
  apply(settings: AgentSettings, version: number, mode: 'merge' | 'replace' = 'merge'): void {
    const next: AgentSettings =
      mode === 'replace'
        ? settings
        : {
            ...this.overlay,
            ...settings,
            thresholds: { ...this.overlay.thresholds, ...settings.thresholds },
            rest: { ...this.overlay.rest, ...settings.rest },
          };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version, settings: next }, null, 2));
    renameSync(tmp, this.file);
    this.overlay = next;
    this.version = version;
  }
}

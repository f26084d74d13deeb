import {
  type AgentSettings,
  type Command,
  type CommandResult,
  LIMITS,
  parseMessage,
} from '@classroom/protocol';
import type { Logger } from 'pino';
import { parseSettings } from './config.js';
import type { SourceMonitor } from './media/types.js';

/** What commands act on; the app implements it. */
export interface CommandTarget {
  rebirth(): Promise<void>;
  /** The monitor with this id, or the first camera when id is undefined. */
  monitor(id: string | undefined): SourceMonitor | undefined;
  /** Validated settings in; returns the new configVersion. */
  applySettings(settings: AgentSettings, version: number | undefined): Promise<number>;
  sleep(): Promise<void>;
  wake(): Promise<void>;
}

export interface CommandsContext {
  log: Logger;
  clock: { now(): number };
  /** Persists the id; false if it was seen before (survives restarts). */
  remember(id: string, now: number): Promise<boolean>;
  publishResult(result: CommandResult): Promise<void>;
  target: CommandTarget;
}

class CommandError extends Error {}

/**
 * At most one thumbnail per source in this many ms (docs/agent.md, `thumbnail`): a patrol wall, or
 * a misbehaving client behind it, can never make the box do more than this much picture work.
 */
export const THUMBNAIL_MIN_INTERVAL_MS = 2000;

function stringArg(args: Record<string, unknown>, key: string): string | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new CommandError(`args.${key} must be a string`);
  return v;
}

/**
 * Remote commands (docs/agent.md "Commands"; DESIGN.md "Commands"). Each one is answered `accepted` when it will run, then `ok` with
 * its data or `error` with the reason. Expired and replayed ids get `error` and do not run.
 */
export class Commands {
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  /** source id → when its last thumbnail was sent */
  private readonly thumbSent = new Map<string, number>();

  constructor(private readonly ctx: CommandsContext) {
    this.log = ctx.log.child({ module: 'commands' });
  }

  /** Entry point for a raw `cmd` payload. Never throws; commands run one at a time, in order. */
  handle(payload: Buffer): Promise<void> {
    const next = this.chain.then(() => this.handleOne(payload));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async handleOne(payload: Buffer): Promise<void> {
    const parsed = parseMessage('cmd', payload);
    if (!parsed.ok) {
      this.log.warn({ error: parsed.error.message }, 'malformed command refused');
      // Answer when the id is recoverable, so the sender is not left waiting.
      const id = this.recoverId(payload);
      if (id)
        await this.result({ v: 1, id, status: 'error', error: `invalid command: ${parsed.error.message}` });
      return;
    }
    const cmd = parsed.value;
    const now = this.ctx.clock.now();
    const fresh = await this.ctx.remember(cmd.id, now);
    if (!fresh) {
      this.log.warn({ id: cmd.id, name: cmd.name }, 'duplicate command refused');
      return this.result({ v: 1, id: cmd.id, status: 'error', error: 'duplicate command id; not run' });
    }
    if (cmd.expiresAt <= now) {
      this.log.warn({ id: cmd.id, name: cmd.name, expiresAt: cmd.expiresAt, now }, 'expired command refused');
      return this.result({
        v: 1,
        id: cmd.id,
        status: 'error',
        error: `command expired at ${new Date(cmd.expiresAt).toISOString()}; not run`,
      });
    }
    // A thumbnail is answered at once (no `accepted` first): it is read-only and polled every few
    // seconds, so one message per request halves its cost.
    if (cmd.name !== 'thumbnail') await this.result({ v: 1, id: cmd.id, status: 'accepted' });
    try {
      const data = await this.run(cmd);
      this.log.info({ id: cmd.id, name: cmd.name }, 'command done');
      await this.result({ v: 1, id: cmd.id, status: 'ok', ...(data ? { data } : {}) });
    } catch (err) {
      const message = (err as Error).message.slice(0, LIMITS.maxStringLength);
      this.log.warn({ id: cmd.id, name: cmd.name, err: message }, 'command failed');
      await this.result({ v: 1, id: cmd.id, status: 'error', error: message });
    }
  }

  private async run(cmd: Command): Promise<Record<string, unknown> | undefined> {
    const { target } = this.ctx;
    switch (cmd.name) {
      case 'rebirth':
        await target.rebirth();
        return undefined;
      case 'snapshot': {
        const monitor = this.monitorFor(cmd.args);
        const jpeg = await monitor.snapshot();
        if (jpeg.length > LIMITS.maxSnapshotBytes) {
          throw new CommandError(
            `snapshot of ${jpeg.length} bytes exceeds the ${LIMITS.maxSnapshotBytes}-byte cap`,
          );
        }
        return {
          source: monitor.id,
          contentType: 'image/jpeg',
          bytes: jpeg.length,
          jpeg: jpeg.toString('base64'),
        };
      }
      case 'thumbnail': {
        const monitor = this.monitorFor(cmd.args);
        const now = this.ctx.clock.now();
        const last = this.thumbSent.get(monitor.id);
        if (last !== undefined && now - last < THUMBNAIL_MIN_INTERVAL_MS) {
          throw new CommandError(
            `rate limited: one thumbnail per ${THUMBNAIL_MIN_INTERVAL_MS} ms per source; retry in ${THUMBNAIL_MIN_INTERVAL_MS - (now - last)} ms`,
          );
        }
        const t = await monitor.thumbnail();
        if (t.jpeg.length > LIMITS.maxThumbnailBytes) {
          throw new CommandError(
            `thumbnail of ${t.jpeg.length} bytes exceeds the ${LIMITS.maxThumbnailBytes}-byte cap`,
          );
        }
        this.thumbSent.set(monitor.id, now);
        return {
          source: monitor.id,
          contentType: 'image/jpeg',
          bytes: t.jpeg.length,
          at: t.at,
          jpeg: t.jpeg.toString('base64'),
        };
      }
      case 'restart-source': {
        const monitor = this.monitorFor(cmd.args);
        await monitor.restart();
        return { source: monitor.id };
      }
      case 'set-config': {
        // args is either {config, version?} (the shape of the retained config topic) or the settings themselves.
        const raw =
          typeof cmd.args.config === 'object' && cmd.args.config !== null ? cmd.args.config : cmd.args;
        const version = cmd.args.version;
        if (version !== undefined && (!Number.isInteger(version) || (version as number) < 0)) {
          throw new CommandError('args.version must be a non-negative integer');
        }
        const settings =
          raw === cmd.args ? Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'version')) : raw;
        const r = parseSettings(settings);
        if (!r.ok) throw new CommandError(`invalid settings: ${r.errors.join('; ')}`);
        const configVersion = await target.applySettings(r.settings, version as number | undefined);
        return { configVersion };
      }
      case 'sleep':
        await target.sleep();
        return { state: 'sleeping' };
      case 'wake':
        await target.wake();
        return { state: 'online' };
    }
  }

  private monitorFor(args: Record<string, unknown>): SourceMonitor {
    const id = stringArg(args, 'source');
    const monitor = this.ctx.target.monitor(id);
    if (!monitor) throw new CommandError(id ? `no source "${id}"` : 'no camera source configured');
    return monitor;
  }

  private recoverId(payload: Buffer): string | null {
    try {
      const v = JSON.parse(payload.toString('utf8')) as { id?: unknown };
      return typeof v.id === 'string' && v.id.length > 0 && v.id.length <= LIMITS.maxIdLength ? v.id : null;
    } catch {
      return null;
    }
  }

  private async result(r: CommandResult): Promise<void> {
    try {
      await this.ctx.publishResult(r);
    } catch (err) {
      this.log.warn({ id: r.id, status: r.status, err: String(err) }, 'could not publish command result');
    }
  }
}

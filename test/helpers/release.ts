// Helpers of the release test (test/release.test.ts): processes run from an installed prefix with an
// environment that cannot reach the workspace, a systemd unit reader, and bounded waits.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

export const ROOT = resolve(new URL('../../', import.meta.url).pathname);

/**
 * The environment of a process on a machine without the workspace: no npm_* variables of the
 * `npm test` that runs us, no NODE_PATH, and no PATH entry inside the repository
 * (node_modules/.bin above all).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'NODE_PATH' || k === 'INIT_CWD' || k.startsWith('CLASSROOM_')) continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '/usr/bin:/bin')
    .split(delimiter)
    .filter((p) => p && !resolve(p).startsWith(ROOT))
    .join(delimiter);
  return { ...env, ...extra };
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited(timeoutMs?: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals): void;
}

export function startProc(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Proc {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-1_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    async exited(timeoutMs = 30_000) {
      let t: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        t = setTimeout(
          () => reject(new Error(`${cmd} did not exit in ${timeoutMs} ms: ${out.slice(-2000)}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([gone, timeout]);
      } finally {
        clearTimeout(t);
      }
    },
    stop(signal = 'SIGTERM') {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

/** Runs a command to its end; rejects with its output on a non-zero exit. */
export function runToEnd(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; onOutput?: (chunk: string) => void },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onOutput?.(d.toString());
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${cmd} ${args.join(' ')}: no end after ${opts.timeoutMs} ms\n${stderr.slice(-4000)}`),
      );
    }, opts.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolveRun({ stdout, stderr });
      else
        reject(
          new Error(
            `${cmd} ${args.join(' ')} exited ${code}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`,
          ),
        );
    });
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One systemd unit file: each section's keys, in order, with every value (keys may repeat). */
export type Unit = Map<string, Array<[key: string, value: string]>>;

/** Reads a unit file the way systemd.syntax(7) describes it: sections, key=value, # and ; comments, `\` continuations. */
export function readUnit(path: string): Unit {
  const unit: Unit = new Map();
  let section: Array<[string, string]> | null = null;
  const lines = readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[([A-Za-z]+)\]$/.exec(line);
    if (head) {
      section = [];
      unit.set(head[1] as string, section);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`${path}:${i + 1}: not a unit file line: ${raw}`);
    section.push([kv[1] as string, kv[2] as string]);
  }
  return unit;
}

export function unitValues(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** A command line of ExecStart= as argv (the units use no quoting), without systemd's prefixes (-, @, +, !). */
export function execArgv(value: string): string[] {
  return value
    .replace(/^[-@:+!]+/, '')
    .trim()
    .split(/\s+/);
}

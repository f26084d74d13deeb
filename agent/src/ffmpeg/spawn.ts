import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';

/**
 * ffmpeg does not exit when its stdin closes, and Node has no PR_SET_PDEATHSIG. So every ffmpeg
 * runs under this tiny sh guard, in its own process group (docs/agent-media.md "Supervision": no orphans even when the agent
 * is killed):
 * - a watcher keeps the agent's stdin pipe as a lifeline (via fd 9, because a background job's
 *   stdin is /dev/null); when the agent dies the pipe reaches EOF and the watcher SIGKILLs the
 *   whole group (nobody is left to read what a graceful stop would flush);
 * - ffmpeg runs in the foreground with default signal dispositions (a trap with a command is
 *   reset on exec; an ignored signal would be inherited), so SIGINT to the group stops it
 *   gracefully even before it has installed its own handlers; the guard's trap runs only after;
 * - it reaps ffmpeg and the watcher (no zombies) and exits with ffmpeg's status.
 */
const GUARD = [
  'trap ":" INT TERM',
  'exec 9<&0',
  '{ trap "" INT TERM; while read -r _; do :; done; kill -KILL 0; } <&9 >/dev/null 2>&1 &',
  'w=$!',
  'exec 9<&-',
  '"$0" "$@" </dev/null',
  's=$?',
  'kill -KILL "$w" 2>/dev/null',
  'wait "$w" 2>/dev/null',
  'exit "$s"',
].join('\n');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A clean or crashing exit of the agent takes every ffmpeg group with it at once.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

export interface GuardedSpawnOptions {
  /** Extra pipes from the child, as fds 3, 4, …; each is readable from `child.stdio[n]`. */
  extraPipes?: number;
  /** Further fds after the pipes that write to /dev/null (outputs nobody needs to read). */
  nullFds?: number;
}

let devNull: number | null = null;

/** Starts `bin args…` under the guard in a new process group; stdout/stderr/extra fds are pipes. */
export function spawnGuarded(bin: string, args: string[], opts: GuardedSpawnOptions = {}): ChildProcess {
  installExitHook();
  const extra: ('pipe' | number)[] = Array.from({ length: opts.extraPipes ?? 0 }, () => 'pipe' as const);
  if (opts.nullFds) {
    // One descriptor for the process's lifetime; spawn duplicates it into each child.
    devNull ??= openSync('/dev/null', 'w');
    for (let i = 0; i < opts.nullFds; i++) extra.push(devNull);
  }
  const child = spawn('/bin/sh', ['-c', GUARD, bin, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe', ...extra],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  // The lifeline is never written to; errors on it (EPIPE after exit) carry no information.
  child.stdin?.on('error', () => {});
  return child;
}

/** Signals the whole process group of a guarded child (guard, ffmpeg and the lifeline watcher). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Number of guarded children still running in this process (for tests and status). */
export function liveGuardedCount(): number {
  return live.size;
}

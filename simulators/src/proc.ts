import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/**
 * Child processes of the simulators run in their own process group (detached), so that stopping one
 * also stops whatever it spawned (an agent's ffmpeg children): we signal the whole group, never a
 * name pattern. The parent still holds a handle, so detached children are not daemons.
 */
export function spawnGroup(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(command, args, { ...options, detached: true });
}

/**
 * Like spawnGroup, but the command dies with us even if we are killed -9: a shell wrapper holds our
 * stdin pipe as a lifeline and stops the command when that pipe reaches EOF (Node has no
 * PR_SET_PDEATHSIG, and ffmpeg ignores a closed stdin). Used for the media generators and agents.
 */
export function spawnTethered(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const script = [
    // The wrapper outlives a group SIGTERM so that it reports the command's own exit (a Node agent
    // or ffmpeg sets its own handlers, so the inherited "ignore" does not reach them).
    'trap "" INT TERM',
    'exec 3<&0',
    '"$0" "$@" </dev/null &',
    'c=$!',
    '( while read -r _ <&3; do :; done; kill -TERM "$c"; sleep 2; kill -KILL "$c" ) >/dev/null 2>&1 &',
    'w=$!',
    'exec 3<&-',
    'wait "$c"; s=$?',
    'kill "$w" 2>/dev/null',
    'exit "$s"',
  ].join('\n');
  const stdio = options.stdio;
  const rest: ['pipe', unknown, unknown] = [
    'pipe',
    Array.isArray(stdio) ? stdio[1] : 'ignore',
    Array.isArray(stdio) ? stdio[2] : 'ignore',
  ];
  const child = spawn('/bin/sh', ['-c', script, command, ...args], {
    ...options,
    stdio: rest as SpawnOptions['stdio'],
    detached: true,
  });
  // The lifeline is never written; EPIPE after the child exits says nothing.
  child.stdin?.on('error', () => {});
  return child;
}

/** Sends a signal to the child's whole process group; a group that is already gone is not an error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited (at once if it already has). */
export function waitExit(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Stops a process group: `signal` first, SIGKILL after `graceMs`. The group is sent SIGKILL at the end
 * as well, because grandchildren may outlive a leader that exited on its own signal.
 */
export async function stopGroup(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (child.pid === undefined) return;
  if (!hasExited(child)) {
    signalGroup(child, signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      waitExit(child),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
  signalGroup(child, 'SIGKILL');
  await waitExit(child);
}

/** Pids of live processes in a process group (Linux /proc), used to prove that nothing was orphaned. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') out.push(Number(name));
    } catch {
      // The process exited between readdir and readFile.
    }
  }
  return out;
}

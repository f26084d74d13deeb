// CPU readings of processes from Linux /proc (proc(5)): what the benches count as a process's or a
// process tree's cost. Fields of /proc/PID/stat after the command name: ppid is the 2nd, utime and
// stime the 12th and 13th, cutime and cstime (children it has reaped) the 14th and 15th, in ticks.
import { readdirSync, readFileSync } from 'node:fs';

export const TCK = 100; // Linux USER_HZ

/**
 * `ppid`, `self` (utime+stime) and `reaped` (cutime+cstime: short-lived helpers it ran and waited
 * for) in seconds, of a pid (or `self`); null once the process has gone.
 */
export function statOfPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      self: (Number(f[11]) + Number(f[12])) / TCK,
      reaped: (Number(f[13]) + Number(f[14])) / TCK,
    };
  } catch {
    return null;
  }
}

/** utime+stime in seconds of one process, or NaN once it has gone. */
export function cpuOfPid(pid) {
  return statOfPid(pid)?.self ?? Number.NaN;
}

/** `self` and `reaped` seconds of one process (see statOfPid), both NaN once it has gone. */
export function cpuTimesOfPid(pid) {
  const s = statOfPid(pid);
  return s ? { self: s.self, reaped: s.reaped } : { self: Number.NaN, reaped: Number.NaN };
}

/**
 * CPU seconds of every thread of a process, from the scheduler's nanosecond accounting
 * (/proc/PID/task/TID/schedstat): far finer than the 10 ms ticks of /proc/PID/stat, which a
 * process using a few ms a second needs. Threads that ended are not counted (Node's are not
 * short-lived). NaN once the process has gone.
 */
export function threadCpuOfPid(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread ended */
      }
    }
    return ns / 1e9;
  } catch {
    return Number.NaN;
  }
}

const pids = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p));

/**
 * utime+stime in seconds of every process whose command line (NUL-separated) matches, by pid;
 * `cmds`, when given, collects the matching command lines.
 */
export function cpuOf(match, cmds) {
  const out = new Map();
  for (const pid of pids()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!match(cmd)) continue;
      cmds?.add(cmd);
      const cpu = cpuOfPid(pid);
      if (!Number.isNaN(cpu)) out.set(pid, cpu);
    } catch {
      /* process ended between readdir and read */
    }
  }
  return out;
}

/** Pids of the live descendants of `root` (children first, depth first). */
export function descendants(root) {
  const kids = new Map();
  for (const pid of pids()) {
    const s = statOfPid(pid);
    if (s) kids.set(s.ppid, [...(kids.get(s.ppid) ?? []), Number(pid)]);
  }
  const out = [];
  const walk = (p) => {
    for (const c of kids.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** Command lines of the live descendants of `root`. */
export function descendantCmds(root) {
  const out = [];
  for (const pid of descendants(root)) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      /* ended */
    }
  }
  return out;
}

/** utime+stime seconds of `root` and of every live descendant, by pid (a process that ends is not counted twice). */
export function treeCpu(root) {
  const out = new Map();
  const s = statOfPid(root);
  if (!s) return out;
  out.set(Number(root), s.self);
  for (const pid of descendants(root)) {
    const c = cpuOfPid(pid);
    if (!Number.isNaN(c)) out.set(pid, c);
  }
  return out;
}

/** Seconds spent between two readings by pid (treeCpu, cpuOf): a pid absent before counts from 0. */
export function cpuDelta(before, after) {
  let sum = 0;
  for (const [pid, cpu] of after) sum += cpu - (before.get(pid) ?? 0);
  return sum;
}

/** Pids of ffmpeg processes whose command line has an argument starting with `marker` (e.g. an input url). */
export function ffmpegPids(marker) {
  const out = [];
  for (const p of pids()) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('ffmpeg') && cmd.some((a) => a.startsWith(marker))) out.push(Number(p));
    } catch {}
  }
  return out;
}

/**
 * CPU of a changing set of processes over a span: sample() every second keeps the last reading
 * of each (a restarted ffmpeg's time is not lost with its process); `total()` is the time spent
 * since begin().
 */
export class CpuTally {
  constructor(match) {
    this.match = match;
    this.base = new Map();
    this.last = new Map();
  }
  begin() {
    this.base = cpuOf(this.match);
    this.last = new Map(this.base);
  }
  sample() {
    for (const [pid, s] of cpuOf(this.match)) this.last.set(pid, s);
  }
  total() {
    let t = 0;
    for (const [pid, s] of this.last) t += s - (this.base.get(pid) ?? 0);
    return t;
  }
  processes() {
    return this.last.size;
  }
}

import { readdir, readFile } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * Host readings for telemetry (docs/agent.md "Telemetry") from the kernel's own files and Node's
 * os module, without starting a process: a general-purpose system library ran two blocking
 * shells (`execSync`) and one or two more per report for CPU load and temperature, and on the box
 * each fork of the agent cost more than the rest of a report (BENCHMARKS.md "Agent node process by number of sources").
 */

/** CPU load of the whole host between two readings (0..1), from the kernel's per-CPU times. */
export class CpuLoadMeter {
  private last: { busy: number; total: number } | null = null;

  constructor(private readonly sample: () => { busy: number; total: number } = cpuTimes) {}

  /** Share of CPU time not idle since the previous reading; since boot on the first one. */
  read(): number {
    const now = this.sample();
    const prev = this.last ?? { busy: 0, total: 0 };
    this.last = now;
    const total = now.total - prev.total;
    const busy = now.busy - prev.busy;
    if (!(total > 0) || !(busy >= 0)) return 0;
    return Math.min(1, Math.max(0, busy / total));
  }
}

/** Sum of every CPU's times (ms); idle and iowait count as not busy. */
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** Memory of the host: total, and used = total − available (what can be had without swapping). */
export function memory(): { usedBytes: number; totalBytes: number } {
  // On Linux, libuv's free memory is /proc/meminfo's MemAvailable.
  const total = totalmem();
  return { usedBytes: Math.max(0, total - freemem()), totalBytes: total };
}

const readText = (file: string): Promise<string | null> => readFile(file, 'utf8').catch(() => null);

/** A sysfs temperature (millidegrees) in °C, or null when unreadable or implausible. */
function celsius(text: string | null): number | null {
  if (text === null) return null;
  const v = Number.parseInt(text.trim(), 10) / 1000;
  return Number.isFinite(v) && v > -100 && v < 200 ? Math.round(v * 10) / 10 : null;
}

/**
 * The CPU temperature in °C, or null. In order: a hwmon sensor labelled as the package or die
 * (`Package id 0`, `Tctl`, `Tdie`, `Physical id 0`), the mean of the `Core N` sensors, a thermal
 * zone of the CPU or SoC (`x86_pkg_temp`, `cpu-thermal` on a Raspberry Pi, `soc_thermal`), the
 * first thermal zone. `root` is for tests.
 */
export async function cpuTemperature(root = '/sys/class'): Promise<number | null> {
  const hwmon = join(root, 'hwmon');
  const cores: number[] = [];
  let pkg: number | null = null;
  for (const mon of (await readdir(hwmon).catch(() => [] as string[])).sort()) {
    const dir = join(hwmon, mon);
    const labels = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^temp\d+_label$/.test(f));
    for (const l of labels.sort()) {
      const label = (await readText(join(dir, l)))?.trim().toLowerCase() ?? '';
      const v = celsius(await readText(join(dir, l.replace('_label', '_input'))));
      if (v === null) continue;
      if (pkg === null && /^(package id|physical id|tctl|tdie)/.test(label)) pkg = v;
      else if (label.startsWith('core ')) cores.push(v);
    }
  }
  if (pkg !== null) return pkg;
  if (cores.length > 0) return Math.round((cores.reduce((a, b) => a + b, 0) / cores.length) * 10) / 10;
  const thermal = join(root, 'thermal');
  const zones = (await readdir(thermal).catch(() => [] as string[]))
    .filter((z) => /^thermal_zone\d+$/.test(z))
    .sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  let first: number | null = null;
  for (const z of zones) {
    const v = celsius(await readText(join(thermal, z, 'temp')));
    if (v === null) continue;
    first ??= v;
    const type = (await readText(join(thermal, z, 'type')))?.trim().toLowerCase() ?? '';
    if (/x86_pkg_temp|cpu|soc/.test(type)) return v;
  }
  return first;
}

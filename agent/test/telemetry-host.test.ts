import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuLoadMeter, cpuTemperature, memory } from '../src/telemetry/host.js';
import { removeDir, tempDir } from './helpers/agent.js';

/** Writes a fake /sys/class tree: `files` maps paths below it to their contents. */
function sysfs(files: Record<string, string>): string {
  const root = tempDir('sysfs-');
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `${text}\n`);
  }
  return root;
}

describe('host readings for telemetry', () => {
  it('CPU load is the busy share between two readings, since boot on the first', () => {
    const samples = [
      { busy: 100, total: 400 },
      { busy: 400, total: 800 },
      { busy: 400, total: 1200 },
      { busy: 1200, total: 2000 },
    ];
    const meter = new CpuLoadMeter(() => samples.shift()!);
    expect(meter.read()).toBeCloseTo(0.25, 6);
    expect(meter.read()).toBeCloseTo(0.75, 6);
    expect(meter.read()).toBe(0);
    expect(meter.read()).toBe(1);
  });

  it('CPU load of this host is in 0..1 and above 0 after a busy spell of this process', () => {
    const meter = new CpuLoadMeter();
    meter.read();
    const until = Date.now() + 300;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const load = meter.read();
    expect(x).toBeGreaterThan(0);
    expect(load).toBeGreaterThan(0);
    expect(load).toBeLessThanOrEqual(1);
  });

  it('memory used is total minus MemAvailable of /proc/meminfo', () => {
    const info = readFileSync('/proc/meminfo', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(info)![1]) * 1024;
    const m = memory();
    expect(m.totalBytes).toBe(kb('MemTotal'));
    // Read a moment apart from the file: allow what other processes change meanwhile.
    expect(Math.abs(m.usedBytes - (kb('MemTotal') - kb('MemAvailable')))).toBeLessThan(0.02 * m.totalBytes);
  });

  it('temperature: a hwmon package sensor first, else the mean of the cores', async () => {
    const pkg = sysfs({
      'hwmon/hwmon0/temp1_label': 'Core 0',
      'hwmon/hwmon0/temp1_input': '41000',
      'hwmon/hwmon1/temp1_label': 'Package id 0',
      'hwmon/hwmon1/temp1_input': '47500',
      'thermal/thermal_zone0/type': 'acpitz',
      'thermal/thermal_zone0/temp': '30000',
    });
    const cores = sysfs({
      'hwmon/hwmon0/temp1_label': 'Core 0',
      'hwmon/hwmon0/temp1_input': '40000',
      'hwmon/hwmon0/temp2_label': 'Core 1',
      'hwmon/hwmon0/temp2_input': '45000',
      'hwmon/hwmon0/temp3_label': 'Composite',
      'hwmon/hwmon0/temp3_input': '99000',
    });
    try {
      expect(await cpuTemperature(pkg)).toBe(47.5);
      expect(await cpuTemperature(cores)).toBe(42.5);
    } finally {
      removeDir(pkg);
      removeDir(cores);
    }
  });

  it('temperature: the CPU thermal zone (Raspberry Pi), else the first zone, else null', async () => {
    const pi = sysfs({
      'thermal/thermal_zone0/type': 'acpitz',
      'thermal/thermal_zone0/temp': '30000',
      'thermal/thermal_zone1/type': 'cpu-thermal',
      'thermal/thermal_zone1/temp': '52612',
    });
    const other = sysfs({
      'thermal/thermal_zone0/type': 'acpitz',
      'thermal/thermal_zone0/temp': '31000',
      'thermal/thermal_zone1/type': 'broken',
      'thermal/thermal_zone1/temp': '9999999',
    });
    const none = sysfs({ 'thermal/cooling_device0/type': 'Processor' });
    try {
      expect(await cpuTemperature(pi)).toBe(52.6);
      expect(await cpuTemperature(other)).toBe(31);
      expect(await cpuTemperature(none)).toBeNull();
      expect(await cpuTemperature(join(none, 'missing'))).toBeNull();
    } finally {
      removeDir(pi);
      removeDir(other);
      removeDir(none);
    }
  });
});

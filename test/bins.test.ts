import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The bins are what `npm install` links into node_modules/.bin; test them as a user would run them.
const bins = [
  ['classroom-hub', 'hub'],
  ['classroom-agent', 'agent'],
  ['classroom-sim', 'simulators'],
] as const;

describe('installed bins', () => {
  for (const [bin, dir] of bins) {
    const version = (JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { version: string }).version;
    it(`${bin} answers --help and --version`, () => {
      const help = execFileSync(`node_modules/.bin/${bin}`, ['--help']).toString();
      expect(help).toContain(`Usage: ${bin}`);
      expect(execFileSync(`node_modules/.bin/${bin}`, ['--version']).toString().trim()).toBe(version);
    });
  }
});

describe('classroom-hub schedule import (installed bin)', () => {
  it('imports a CSV timetable into the data dir and refuses a bad one, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sched-'));
    try {
      const good = join(dir, 'a101.csv');
      writeFileSync(
        good,
        'date,start,end,title\n2026-03-02,08:00,08:45,Physics\n2026-03-02,09:00,09:45,Maths\n',
      );
      const out = execFileSync('node_modules/.bin/classroom-hub', [
        'schedule',
        'import',
        '--room',
        'A-101',
        '--file',
        good,
        '--data-dir',
        join(dir, 'data'),
      ]).toString();
      const summary = JSON.parse(out) as { room: string; periods: number };
      expect(summary).toMatchObject({ room: 'A-101', periods: 2 });

      const bad = join(dir, 'bad.csv');
      writeFileSync(bad, 'date,start,end\n2026-03-02,08:00,07:00\n');
      const r = spawnSync(
        'node_modules/.bin/classroom-hub',
        ['schedule', 'import', '--room', 'A-101', '--file', bad, '--data-dir', join(dir, 'data')],
        { encoding: 'utf8' },
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/line 2/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

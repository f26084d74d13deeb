import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config.js';
import { removeDir, tempDir } from './helpers/agent.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-agent.js', import.meta.url).pathname;

const good = {
  agent: 'box-1',
  room: { id: 'A101', name: 'Room A101', building: 'A', floor: '1', campus: 'north' },
  broker: { url: 'mqtts://hub.example.edu:8883', username: 'box-1', password: 's3cret', ca: 'ca.pem' },
  dataDir: './data',
  sources: [
    { id: 'cam', kind: 'camera', input: 'rtsp://10.0.0.5/stream1', label: 'Front camera' },
    { id: 'mic', kind: 'microphone', input: 'alsa:hw:1' },
  ],
};

describe('agent config', () => {
  it('fills defaults and resolves paths against the config file', () => {
    const r = parseConfig(good, '/etc/classroom');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.windowS).toBe(10);
    expect(r.config.telemetryIntervalS).toBe(30);
    expect(r.config.broker.keepaliveS).toBe(10);
    expect(r.config.dataDir).toBe('/etc/classroom/data');
    expect(r.config.broker.ca).toBe('/etc/classroom/ca.pem');
    expect(r.config.thresholds).toEqual({});
  });

  it('names the path of every bad field at once', () => {
    const r = parseConfig({
      ...good,
      agent: 'Box 1',
      room: { id: '', name: 'x' },
      broker: { url: 'http://hub', keepaliveS: 1 },
      sources: [
        { id: 'cam', kind: 'webcam', input: 'x' },
        { id: 'mic', kind: 'microphone', input: '' },
      ],
      windowS: 0,
      thresholds: { silenceDb: 10, blackLumaa: 0.1 },
      extra: true,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.errors.map((e) => e.split(':')[0]);
    for (const p of [
      'agent',
      'room.id',
      'broker.url',
      'broker.keepaliveS',
      'sources.0.kind',
      'sources.1.input',
      'windowS',
      'thresholds.silenceDb',
      'thresholds.blackLumaa',
      'extra',
    ]) {
      expect(paths, `expected an error for ${p} in ${r.errors.join(' | ')}`).toContain(p);
    }
    expect(r.errors).toContain('extra: unknown field');
    expect(r.errors.filter((e) => e.startsWith('agent'))).toHaveLength(1);
  });

  it('refuses duplicate source ids and reserved agent ids', () => {
    const r = parseConfig({
      ...good,
      agent: 'hub',
      sources: [good.sources[0], { ...good.sources[1], id: 'cam' }],
    });
    expect(r.ok ? [] : r.errors).toEqual([
      'agent: is a reserved id',
      'sources.1.id: duplicate source id "cam"',
    ]);
  });

  it('refuses password together with passwordFile, and reads passwordFile', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'pw'), 'from-file\n');
      const both = parseConfig(
        { ...good, broker: { url: 'mqtt://h', password: 'a', passwordFile: 'pw' } },
        dir,
      );
      expect(both.ok ? [] : both.errors).toEqual([
        'broker.passwordFile: give password or passwordFile, not both',
      ]);
      const file = parseConfig({ ...good, broker: { url: 'mqtt://h', passwordFile: 'pw' } }, dir);
      expect(file.ok && file.config.broker.password).toBe('from-file');
    } finally {
      removeDir(dir);
    }
  });

  it('reports unreadable and non-JSON files', () => {
    expect(loadConfig('/nonexistent/agent.json')).toMatchObject({ ok: false });
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'a.json'), '{ nope');
      const r = loadConfig(join(dir, 'a.json'));
      expect(r.ok ? '' : r.errors[0]).toMatch(/not valid JSON/);
    } finally {
      removeDir(dir);
    }
  });
});

describe('classroom-agent --check-config (built bin)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => removeDir(dir));

  it('exits 0 on a valid file', async () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify(good));
    const { stdout } = await run(process.execPath, [BIN, '--check-config', file]);
    expect(stdout).toMatch(/ok \(agent box-1, room A101, 2 sources\)/);
  });

  it('exits 1 and lists every bad field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...good, windowS: -1, broker: { url: 'ftp://x' } }));
    const err = await run(process.execPath, [BIN, '--check-config', file]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/windowS: /);
    expect((err as { stderr: string }).stderr).toMatch(/broker\.url: must be a mqtt/);
  });
});

describe('docs/examples/agent.json', () => {
  it('is a valid config (RTSP camera + USB mic)', () => {
    const file = new URL('../../docs/examples/agent.json', import.meta.url).pathname;
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { broker: Record<string, unknown> };
    // The password file exists only on a real box.
    delete raw.broker.passwordFile;
    const r = parseConfig(raw, '/etc/classroom-agent');
    expect(r.ok ? [] : r.errors).toEqual([]);
    if (!r.ok) return;
    expect(r.config.sources.map((s) => [s.kind, s.input.split(':')[0]])).toEqual([
      ['camera', 'rtsp'],
      ['microphone', 'alsa'],
    ]);
  });
});

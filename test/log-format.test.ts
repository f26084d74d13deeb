// Readable log lines at a terminal, JSON lines otherwise (docs/hub.md "Logs"): the installed bins run
// under a real pseudo-terminal (util-linux `script`) and with plain pipes.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = (name: string) => resolve('node_modules/.bin', name);
/** pino-pretty's line: "[HH:MM:ss.mmm] LEVEL (name): message". */
const PRETTY = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL)( \([^)]*\))?: \S/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colour codes are what is removed
const ANSI = /\u001b\[[0-9;]*m/g;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CLASSROOM_LOG_FORMAT;
  return env;
}

const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;

/** Runs argv (through a pty when `tty`), collects stdout lines until `until` holds or 30 s pass. */
async function linesOf(argv: string[], tty: boolean, until: (lines: string[]) => boolean): Promise<string[]> {
  const child: ChildProcess = tty
    ? spawn('script', ['-qfec', argv.map(quote).join(' '), '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        env: cleanEnv(),
      })
    : spawn(argv[0]!, argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: cleanEnv(),
      });
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  try {
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(`no matching output in 30 s from ${argv.join(' ')}:\n${lines.join('\n')}\n${stderr}`),
          ),
        30_000,
      );
      child.stdout?.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split(/\r?\n/);
        buf = parts.pop() ?? '';
        lines.push(
          ...parts.map((l) => l.replace(ANSI, '').replace(/\r$/, '')).filter((l) => l.trim() !== ''),
        );
        if (until(lines)) {
          clearTimeout(timer);
          done();
        }
      });
      child.on('exit', () => {
        if (until(lines)) done();
      });
    });
  } finally {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
  return lines;
}

const isJson = (l: string) => {
  try {
    return typeof JSON.parse(l) === 'object';
  } catch {
    return false;
  }
};

function hubArgs(extra: string[] = []): string[] {
  return [
    BIN('classroom-hub'),
    'serve',
    '--data-dir',
    tmp('logfmt-hub-'),
    '--http-port',
    '0',
    '--mqtt-port',
    '0',
    ...extra,
  ];
}

describe('log format', () => {
  it('hub: readable lines on a terminal', async () => {
    const lines = await linesOf(hubArgs(), true, (l) => l.some((x) => x.includes('hub listening')));
    const listening = lines.find((x) => x.includes('hub listening'))!;
    expect(listening).toMatch(PRETTY);
    expect(listening).toContain('INFO');
    expect(lines.filter(isJson)).toEqual([]);
  });

  it('hub: JSON lines on a terminal with --log-format json, and through a pipe', async () => {
    for (const [tty, extra] of [
      [true, ['--log-format', 'json']],
      [false, []],
    ] as const) {
      const lines = await linesOf(hubArgs([...extra]), tty, (l) =>
        l.some((x) => x.includes('hub.listening')),
      );
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every(isJson), lines.join('\n')).toBe(true);
      expect(
        lines.map((l) => JSON.parse(l) as { event?: string }).some((e) => e.event === 'hub.listening'),
      ).toBe(true);
    }
  });

  it('agent: readable on a terminal, JSON through a pipe, and an unknown format is refused', async () => {
    const dir = tmp('logfmt-agent-');
    const config = join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        agent: 'log-box',
        room: { id: 'L-1', name: 'L-1', building: 'L', floor: '1', campus: 'Main' },
        // Nothing listens on port 1: the agent logs its connection attempts and keeps running.
        broker: { url: 'mqtt://127.0.0.1:1', username: 'log-box', password: 'x' },
        dataDir: join(dir, 'data'),
        sources: [{ id: 'mic', kind: 'microphone', input: join(dir, 'missing.wav') }],
      }),
    );
    const argv = [BIN('classroom-agent'), '--config', config];
    const pretty = await linesOf(argv, true, (l) => l.length >= 2);
    expect(
      pretty.slice(0, 2).every((l) => PRETTY.test(l)),
      pretty.join('\n'),
    ).toBe(true);
    const json = await linesOf(argv, false, (l) => l.length >= 2);
    expect(json.slice(0, 2).every(isJson), json.join('\n')).toBe(true);
    expect((JSON.parse(json[0]!) as { agent: string }).agent).toBe('log-box');
    const bad = spawn(BIN('classroom-agent'), ['--config', config, '--log-format', 'fancy'], {
      stdio: 'pipe',
    });
    let err = '';
    bad.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((r) => bad.on('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('log format must be one of auto, json, pretty');
  });

  it('simulators: readable on a terminal, JSON with --log-format json', async () => {
    const fleet = [
      'fleet',
      '--broker',
      'mqtt://127.0.0.1:1',
      '--rooms',
      '1',
      '--duration-s',
      '3',
      '--stats-interval-s',
      '1',
    ];
    const pretty = await linesOf([BIN('classroom-sim'), ...fleet], true, (l) => l.length >= 1);
    expect(pretty[0], pretty.join('\n')).toMatch(PRETTY);
    const json = await linesOf(
      [BIN('classroom-sim'), '--log-format', 'json', ...fleet],
      true,
      (l) => l.length >= 1,
    );
    expect(json.every(isJson), json.join('\n')).toBe(true);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { killGroup, spawnGuarded } from '../src/ffmpeg/spawn.js';
import { createSourceMonitor } from '../src/media/index.js';
import { recorder, tools, waitFor } from './media-support.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'media-proc-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Processes whose process group is `pgid`, from /proc (comm and state). */
function groupMembers(pgid: number): { pid: number; comm: string; state: string }[] {
  const out: { pid: number; comm: string; state: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, , pgrp] = stat
      .slice(close + 2)
      .split(' ')
      .slice(0, 3);
    if (Number(pgrp) === pgid) out.push({ pid: Number(name), comm, state: state ?? '?' });
  }
  return out;
}

describe('ffmpeg process supervision', () => {
  it('kill -9 of the owning node process leaves no ffmpeg behind', async () => {
    // The owner is a plain node process running the real spawn module, transpiled on the fly.
    const src = readFileSync(join(here, '../src/ffmpeg/spawn.ts'), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(dir, 'spawn.mjs'), js);
    writeFileSync(
      join(dir, 'owner.mjs'),
      `import { spawnGuarded } from './spawn.mjs';
const c = spawnGuarded(process.argv[2], ['-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=s=160x120:r=10', '-f', 'null', '-']);
c.stderr.resume();
console.log(c.pid);
setInterval(() => {}, 1000);`,
    );
    const owner = spawn(process.execPath, [join(dir, 'owner.mjs'), tools.ffmpeg.path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(owner);
    const pgid = await new Promise<number>((resolve) =>
      owner.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    expect(pgid).toBeGreaterThan(1);
    await waitFor(() => groupMembers(pgid).some((p) => p.comm === 'ffmpeg'), 10_000, 'ffmpeg running');
    owner.kill('SIGKILL');
    await waitFor(() => groupMembers(pgid).length === 0, 15_000, 'ffmpeg group gone after owner was killed');
  }, 30_000);

  it('SIGINT to the group stops ffmpeg cleanly and leaves no zombie', async () => {
    const c = spawnGuarded(tools.ffmpeg.path, [
      '-nostdin',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc=s=160x120:r=10',
      '-f',
      'null',
      '-',
    ]);
    const pgid = c.pid!;
    let err = '';
    c.stderr!.on('data', (d: Buffer) => {
      err += String(d);
    });
    // Once ffmpeg runs its handlers, SIGINT makes it finish its outputs and exit 255.
    await waitFor(() => /frame=\s*\d+/.test(err), 15_000, 'ffmpeg producing frames');
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    expect(killGroup(c, 'SIGINT')).toBe(true);
    expect(await exited).toBe(255);
    expect(err).toMatch(/Exiting normally, received signal 2/);
    await waitFor(() => groupMembers(pgid).length === 0, 10_000, 'group empty');
    expect(killGroup(c, 'SIGKILL')).toBe(false);
  }, 30_000);
});

describe('missing ffmpeg', () => {
  it('ffmpeg not located (ctx.ffmpeg null): state no-ffmpeg with a reason, no throw, no records', async () => {
    const rec = recorder({}, 1, null as never);
    rec.ctx.ffmpeg = null;
    const statuses: string[] = [];
    rec.ctx.onStatus = (s) => statuses.push(s.state);
    const mon = createSourceMonitor({ id: 'cam', kind: 'camera', input: 'lavfi:testsrc' }, rec.ctx);
    await expect(mon.start()).resolves.toBeUndefined();
    expect(mon.status()).toMatchObject({ id: 'cam', state: 'no-ffmpeg', restarts: 0 });
    expect(mon.status().reason).toMatch(/ffmpeg not found.*FFMPEG_PATH/);
    expect(statuses).toEqual(['no-ffmpeg']);
    await expect(mon.snapshot()).rejects.toThrow(/ffmpeg not found/);
    expect((await mon.probe()).error).toMatch(/not available/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(rec.events).toEqual([]);
    expect(rec.windows).toEqual([]);
    await mon.stop();
    expect(mon.status().state).toBe('no-ffmpeg');
  });

  it('ffmpeg path pointing to nothing: source.down with the reason, retried, never throws', async () => {
    const broken = {
      ffmpeg: { path: join(dir, 'nope', 'ffmpeg'), origin: 'env' as const },
      ffprobe: { path: join(dir, 'nope', 'ffprobe'), origin: 'env' as const },
    };
    const rec = recorder({}, 1, broken);
    const mon = createSourceMonitor({ id: 'mic', kind: 'microphone', input: 'lavfi:sine' }, rec.ctx);
    await mon.start();
    await waitFor(() => rec.events.length > 0, 10_000, 'source.down');
    expect(rec.events.map((e) => e.type)).toEqual(['source.down']);
    expect(String(rec.events[0]!.detail.reason)).toMatch(/probe failed/);
    expect(mon.status().state).toBe('down');
    await waitFor(() => mon.status().restarts >= 1, 10_000, 'a retry');
    expect(rec.events.length).toBe(1);
    await mon.stop();
    expect(mon.status().state).toBe('stopped');
  }, 30_000);
});

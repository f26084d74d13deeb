// The release as an operator installs it (docs/operations.md "Install"): `npm run release`, both
// tarballs installed with `npm install -g --prefix` into an empty prefix, then a hub and an agent run
// from that prefix with the command lines of the shipped systemd units, outside the workspace.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanEnv,
  execArgv,
  type Proc,
  ROOT,
  readUnit,
  runToEnd,
  startProc,
  unitValues,
  waitFor,
} from './helpers/release.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const AGENT_UNIT = join(ROOT, 'docs/examples/classroom-agent.service');
const HUB_UNIT = join(ROOT, 'docs/examples/classroom-hub.service');

/** A sqlite3 build from source took 9 min (2.3 min of CPU) per package on a loaded two-core VM: allow for two. */
const INSTALL_TIMEOUT_MS = 30 * 60_000;

interface Artifact {
  name: string;
  version: string;
  file: string;
  bytes: number;
}

let tmp: string;
let prefix: string;
let artifacts: Artifact[] = [];
let releaseLog = '';
const procs: Proc[] = [];

/**
 * sqlite3's install script (prebuild-install) first looks for a local prebuilt binary before it
 * downloads one or compiles. Offer it the workspace's own build of the same version, packed the way
 * its releases are; without one, the install compiles from source (slower, same result).
 */
function offerWorkspaceSqlite(dir: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/sqlite3/package.json'), 'utf8')) as {
    version: string;
  };
  const built = join(ROOT, 'node_modules/sqlite3/build/Release/node_sqlite3.node');
  if (!existsSync(built)) return {};
  const stage = join(dir, 'stage');
  mkdirSync(join(stage, 'build/Release'), { recursive: true });
  writeFileSync(join(stage, 'build/Release/node_sqlite3.node'), readFileSync(built));
  const name = `sqlite3-v${pkg.version}-napi-v6-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['-czf', join(dir, name), '-C', stage, 'build']);
  return { npm_config_sqlite3_local_prebuilds: dir };
}

const installed = (pkg: 'agent' | 'hub') => join(prefix, 'lib/node_modules/@classroom', pkg);
const bin = (name: string) => join(prefix, 'bin', name);

beforeAll(
  async () => {
    tmp = mkdtempSync(join(tmpdir(), 'release-test-'));
    prefix = join(tmp, 'prefix');
    const out = join(tmp, 'release');
    const { stdout } = await runToEnd('npm', ['run', '--silent', 'release', '--', '--out', out], {
      cwd: ROOT,
      env: process.env,
      timeoutMs: 5 * 60_000,
      onOutput: (s) => {
        releaseLog += s;
      },
    });
    artifacts = (JSON.parse(stdout) as { artifacts: Artifact[] }).artifacts;
    const prebuilds = join(tmp, 'prebuilds');
    mkdirSync(prebuilds);
    const tarballs = artifacts.map((a) => join(out, a.file.split('/').pop() as string));
    // From a directory outside the workspace, with a clean environment: what an operator types.
    await runToEnd('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...tarballs], {
      cwd: tmp,
      env: cleanEnv(offerWorkspaceSqlite(prebuilds)),
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
  },
  INSTALL_TIMEOUT_MS + 6 * 60_000,
);

afterAll(async () => {
  for (const p of procs) p.stop('SIGKILL');
  await Promise.all(procs.map((p) => p.exited(10_000).catch(() => null)));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('npm run release', () => {
  it('writes one tarball each for the agent and the hub, with progress on the way', () => {
    expect(artifacts.map((a) => a.file.split('/').pop())).toEqual([
      `classroom-agent-${VERSION}.tgz`,
      `classroom-hub-${VERSION}.tgz`,
    ]);
    for (const a of artifacts) expect(a.bytes).toBeGreaterThan(10_000);
    // Only what runs: compiled JS (and declarations), the bin, the hub's web files, the bundled protocol.
    const allowed =
      /^package\/(package\.json|README\.md|LICENSE|bin\/[^/]+\.js|dist\/.+\.(js|d\.ts)|web\/.+|node_modules\/@classroom\/protocol\/(package\.json|dist\/.+\.(js|d\.ts)|schema\/[^/]+\.json|asyncapi\.json))$/;
    for (const a of artifacts) {
      const entries = execFileSync('tar', ['-tzf', join(tmp, 'release', a.file.split('/').pop() as string)])
        .toString()
        .trim()
        .split('\n');
      const unexpected = entries.filter((e) => !allowed.test(e));
      expect(unexpected, `${a.file}: unexpected files`).toEqual([]);
      expect(entries).toContain('package/node_modules/@classroom/protocol/dist/index.js');
    }
    expect(releaseLog).toMatch(/\[release +[\d.]+s\] @classroom\/agent@[\d.]+: bundled @classroom\/protocol/);
    expect(releaseLog).toMatch(/SHA256SUMS/);
  });

  it('installs into an empty prefix with the protocol bundled, no workspace links and no dev dependencies', () => {
    for (const [pkg, devOnly] of [
      ['agent', ['aedes', '@types/fluent-ffmpeg']],
      ['hub', ['@types/pg']],
    ] as const) {
      const dir = installed(pkg);
      const protocol = join(dir, 'node_modules/@classroom/protocol');
      expect(lstatSync(protocol).isSymbolicLink(), `${pkg}: protocol must be a copy, not a link`).toBe(false);
      expect(JSON.parse(readFileSync(join(protocol, 'package.json'), 'utf8')).version).toBe(VERSION);
      for (const dev of [...devOnly, 'typescript', 'vitest', '@biomejs/biome']) {
        expect(existsSync(join(dir, 'node_modules', dev)), `${pkg}: ${dev} is a dev dependency`).toBe(false);
      }
      // Nothing in the installed tree resolves into the repository.
      for (const e of readdirSync(join(dir, 'node_modules'))) {
        expect(realpathSync(join(dir, 'node_modules', e)).startsWith(ROOT)).toBe(false);
      }
      expect(existsSync(join(dir, 'src')), `${pkg}: sources are not shipped`).toBe(false);
      expect(existsSync(join(dir, 'node_modules/sqlite3/build/Release/node_sqlite3.node'))).toBe(true);
    }
    for (const name of ['classroom-agent', 'classroom-hub']) {
      const v = execFileSync(bin(name), ['--version'], { cwd: tmp, env: cleanEnv() }).toString().trim();
      expect(v).toBe(VERSION);
    }
  });
});

describe('the shipped systemd units', () => {
  for (const [file, name] of [
    [AGENT_UNIT, 'classroom-agent'],
    [HUB_UNIT, 'classroom-hub'],
  ] as const) {
    it(`${name}.service runs the bin npm links into <prefix>/bin, and verifies`, () => {
      const unit = readUnit(file);
      const starts = [
        ...unitValues(unit, 'Service', 'ExecStartPre'),
        ...unitValues(unit, 'Service', 'ExecStart'),
      ];
      expect(starts.length).toBeGreaterThan(0);
      // A bare name: systemd resolves it in /usr/local/bin then /usr/bin, the two usual npm prefixes.
      for (const s of starts) expect(execArgv(s)[0]).toBe(name);
      expect(existsSync(bin(name))).toBe(true);
      expect(unitValues(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
      const verify = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
      if (verify.status !== 0) return; // no systemd-analyze: the parse above is the check
      // verify resolves commands against the real filesystem: point the copy at this prefix.
      const dir = join(tmp, 'units');
      mkdirSync(dir, { recursive: true });
      const copy = join(dir, `${name}.service`);
      writeFileSync(
        copy,
        readFileSync(file, 'utf8').replace(
          new RegExp(`^(ExecStart(?:Pre)?=[-@:+!]*)${name} `, 'gm'),
          `$1${bin(name)} `,
        ),
      );
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`.trim(), 'systemd-analyze verify').toBe('');
      expect(r.status).toBe(0);
    });
  }
});

async function outbox(file: string): Promise<{ lastSeq: number; pending: number[] }> {
  const db = await new Promise<sqlite3.Database>((res, rej) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => (err ? rej(err) : res(d)));
  });
  const all = <T>(sql: string) =>
    new Promise<T[]>((res, rej) => db.all(sql, (err, rows) => (err ? rej(err) : res(rows as T[]))));
  try {
    const meta = await all<{ value: number }>("SELECT value FROM meta WHERE key = 'lastSeq'");
    const rows = await all<{ seq: number }>('SELECT seq FROM outbox ORDER BY seq');
    return { lastSeq: Number(meta[0]?.value ?? 0), pending: rows.map((r) => r.seq) };
  } finally {
    db.close();
  }
}

describe('a hub and an agent from the installed prefix', () => {
  it('the agent connects, its records are stored and acked, and both stop cleanly', async () => {
    const hubData = join(tmp, 'hub-data');
    const agentData = join(tmp, 'agent-data');
    mkdirSync(agentData);
    // The hub's unit command line, with the unit's EnvironmentFile settings as environment.
    const hubArgv = execArgv(unitValues(readUnit(HUB_UNIT), 'Service', 'ExecStart')[0] as string).map((a) =>
      a === '/var/lib/classroom-hub' ? hubData : a,
    );
    expect(hubArgv).toContain(hubData);
    const hubEnv = cleanEnv({
      CLASSROOM_HUB_HOST: '127.0.0.1',
      CLASSROOM_HUB_MQTT_PORT: '0',
      CLASSROOM_HUB_HTTP_PORT: '0',
      NODE_ENV: 'production',
    });
    const hub = startProc(bin(hubArgv[0] as string), hubArgv.slice(1), { cwd: tmp, env: hubEnv });
    procs.push(hub);
    const listening = await waitFor(
      'hub.listening',
      () =>
        hub
          .output()
          .split('\n')
          .find((l) => l.includes('"hub.listening"')),
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; hub said: ${hub.output().slice(-3000)}`);
    });
    const { mqttPort, httpPort } = JSON.parse(listening) as { mqttPort: number; httpPort: number };
    const token = readFileSync(join(hubData, 'admin-token'), 'utf8').trim();
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };

    // The files the installed hub serves from its own package and its dependencies.
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/app.js', 'javascript'],
      ['/vendor/uplot.js', 'javascript'],
      ['/api/openapi.json', 'application/json'],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, `GET ${path}`).toBe(200);
      expect(res.headers.get('content-type') ?? '', `GET ${path}`).toContain(type);
      await res.arrayBuffer();
    }

    const added = execFileSync(
      bin('classroom-hub'),
      ['agents', 'add', '--agent', 'box-rel', '--room', 'R101', '--data-dir', hubData],
      {
        cwd: tmp,
        env: cleanEnv(),
      },
    ).toString();
    const { password } = JSON.parse(added) as { password: string };
    const config = join(tmp, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        agent: 'box-rel',
        room: { id: 'R101', name: 'R101', building: 'R', floor: '1', campus: 'main' },
        broker: { url: `mqtt://127.0.0.1:${mqttPort}`, username: 'box-rel', password, keepaliveS: 5 },
        dataDir: agentData,
        sources: [{ id: 'cam', kind: 'camera', input: 'lavfi:testsrc2=s=160x90:r=5' }],
        windowS: 1,
        telemetryIntervalS: 5,
      }),
    );
    // ExecStartPre and ExecStart of the agent's unit, with this config in place of /etc's.
    const agentUnit = readUnit(AGENT_UNIT);
    const withConfig = (v: string) =>
      execArgv(v).map((a) => (a === '/etc/classroom-agent/agent.json' ? config : a));
    for (const pre of unitValues(agentUnit, 'Service', 'ExecStartPre')) {
      const argv = withConfig(pre);
      expect(argv).toContain(config);
      const r = spawnSync(bin(argv[0] as string), argv.slice(1), {
        cwd: tmp,
        env: cleanEnv(),
        encoding: 'utf8',
      });
      expect(r.status, `${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    const agentArgv = withConfig(unitValues(agentUnit, 'Service', 'ExecStart')[0] as string);
    expect(agentArgv).toContain(config);
    const agent = startProc(bin(agentArgv[0] as string), agentArgv.slice(1), {
      cwd: tmp,
      env: cleanEnv({ NODE_ENV: 'production' }),
    });
    procs.push(agent);

    // Stored at the hub and acked back: seqs 1..3 are in the hub and gone from the box's outbox.
    const stored = await waitFor(
      'three records stored at the hub and acked to the box',
      async () => {
        const page = await api<{ records: Array<{ record: { seq: number } }> }>(
          '/api/records?agent=box-rel&limit=1000',
        );
        const seqs = new Set(page.records.map((r) => r.record.seq));
        if (![1, 2, 3].every((s) => seqs.has(s))) return null;
        const box = await outbox(join(agentData, 'agent.db'));
        return box.pending.some((s) => s <= 3) ? null : seqs;
      },
      120_000,
      500,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\nagent said: ${agent.output().slice(-3000)}\nhub said: ${hub.output().slice(-2000)}`,
      );
    });
    expect(stored.size).toBeGreaterThanOrEqual(3);
    const view = await api<{ availability: string; room: { id: string } }>('/api/agents/box-rel');
    expect(view).toMatchObject({ availability: 'online', room: { id: 'R101' } });

    agent.stop('SIGTERM');
    expect(await agent.exited(30_000)).toBe(0);
    await waitFor(
      'the hub sees the clean stop',
      async () => (await api<{ availability: string }>('/api/agents/box-rel')).availability === 'offline',
      30_000,
    );
    hub.stop('SIGTERM');
    expect(await hub.exited(30_000)).toBe(0);
  }, 240_000);
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { THUMBNAIL_MIN_INTERVAL_MS } from '../src/commands.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { startBroker, type TestBroker, TestHub, waitFor } from './helpers/broker.js';

interface Result {
  id: string;
  status: 'accepted' | 'ok' | 'error';
  error?: string;
  data?: Record<string, unknown>;
}

describe('commands (in-process aedes, real MQTT clients, real sqlite)', () => {
  let broker: TestBroker;
  let hub: TestHub;
  let dir: string;
  let agent: ReturnType<typeof testAgent>;
  let n = 0;

  beforeEach(async () => {
    broker = await startBroker();
    hub = new TestHub();
    await hub.connect(broker.url);
    dir = tempDir();
    agent = testAgent(testConfig(dir, broker.url));
    await agent.app.start();
    await waitFor(() => agent.app.status().connected && hub.on('/birth').length > 0, 'agent online');
  });

  afterEach(async () => {
    await agent.app.stop();
    await hub.close();
    await broker.close();
    removeDir(dir);
  });

  function results(id: string): Result[] {
    return (hub.on('/cmd/result') as Result[]).filter((r) => r.id === id);
  }

  async function command(
    name: string,
    args: Record<string, unknown> = {},
    opts: { id?: string; expiresAt?: number } = {},
  ): Promise<Result> {
    const id = opts.id ?? `c-${++n}`;
    const before = results(id).length;
    await hub.publish('classroom/v1/box-1/cmd', {
      v: 1,
      id,
      name,
      args,
      expiresAt: opts.expiresAt ?? Date.now() + 60_000,
    });
    await waitFor(
      () =>
        results(id)
          .slice(before)
          .some((r) => r.status !== 'accepted'),
      `result of ${name}`,
    );
    return results(id)
      .slice(before)
      .find((r) => r.status !== 'accepted')!;
  }

  it('rebirth: accepted, ok, and a fresh birth with the same session', async () => {
    const births = hub.on('/birth').length;
    const r = await command('rebirth');
    expect(r.status).toBe('ok');
    expect(results(r.id)[0]!.status).toBe('accepted');
    expect(hub.on('/birth').length).toBe(births + 1);
    expect((hub.on('/birth').at(-1) as { session: number }).session).toBe(agent.app.status().session);
  });

  it('snapshot: base64 JPEG from the running monitor; an unknown source and an oversize frame are errors', async () => {
    const r = await command('snapshot', { source: 'cam' });
    expect(r.status).toBe('ok');
    const jpeg = Buffer.from(String(r.data?.jpeg), 'base64');
    expect(jpeg.length).toBe(2048);
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(r.data).toMatchObject({ source: 'cam', contentType: 'image/jpeg', bytes: 2048 });
    expect((await command('snapshot', {})).data?.source).toBe('cam'); // defaults to the first camera
    expect(await command('snapshot', { source: 'nope' })).toMatchObject({
      status: 'error',
      error: 'no source "nope"',
    });
    agent.monitors.get('cam')!.snapshotBytes = 300 * 1024;
    expect((await command('snapshot', { source: 'cam' })).error).toMatch(/exceeds/);
  });

  it('thumbnail: answered at once without `accepted`, at most one per source per interval (test clock)', async () => {
    await agent.app.stop();
    let now = Date.now();
    agent = testAgent(testConfig(dir, broker.url), { clock: { now: () => now } });
    await agent.app.start();
    await waitFor(() => agent.app.status().connected, 'reconnected');
    const first = await command('thumbnail', { source: 'cam' }, { expiresAt: now + 60_000 });
    expect(first).toMatchObject({
      status: 'ok',
      data: { source: 'cam', contentType: 'image/jpeg', bytes: 512 },
    });
    expect(results(first.id).map((r) => r.status)).toEqual(['ok']);
    const jpeg = Buffer.from(String(first.data?.jpeg), 'base64');
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const again = await command('thumbnail', { source: 'cam' }, { expiresAt: now + 60_000 });
    expect(again.status).toBe('error');
    expect(again.error).toMatch(/rate limited: one thumbnail per 2000 ms per source/);
    now += THUMBNAIL_MIN_INTERVAL_MS;
    expect((await command('thumbnail', { source: 'cam' }, { expiresAt: now + 60_000 })).status).toBe('ok');
    expect(await command('thumbnail', { source: 'nope' }, { expiresAt: now + 60_000 })).toMatchObject({
      status: 'error',
      error: 'no source "nope"',
    });
  });

  it('restart-source restarts that monitor only', async () => {
    expect(await command('restart-source', { source: 'mic' })).toMatchObject({
      status: 'ok',
      data: { source: 'mic' },
    });
    expect(agent.monitors.get('mic')!.restarts).toBe(1);
    expect(agent.monitors.get('cam')!.restarts).toBe(0);
    expect((await command('restart-source', { source: 42 })).error).toMatch(/args.source must be a string/);
  });

  it('set-config validates, applies live, persists and reports the new configVersion', async () => {
    const r = await command('set-config', { windowS: 5, thresholds: { silenceDb: -40 } });
    expect(r).toMatchObject({ status: 'ok', data: { configVersion: 1 } });
    const settings = agent.monitors.get('cam')!.ctx.settings();
    expect(settings.windowS).toBe(5);
    expect(settings.thresholds.silenceDb).toBe(-40);
    expect(settings.thresholds.blackMinS).toBe(2); // untouched defaults stay
    const saved = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as { version: number };
    expect(saved.version).toBe(1);
    await waitFor(
      () => (hub.on('/birth').at(-1) as { configVersion: number }).configVersion === 1,
      'birth with v1',
    );
    // the {config, version} shape of the retained topic is accepted too
    expect((await command('set-config', { version: 7, config: { telemetryIntervalS: 60 } })).data).toEqual({
      configVersion: 7,
    });
    expect(agent.app.status().configVersion).toBe(7);
  });

  it('set-config with bad settings names every bad field and changes nothing', async () => {
    const r = await command('set-config', { windowS: 0, thresholds: { silenceDb: 5, bogus: 1 } });
    expect(r.status).toBe('error');
    expect(r.error).toContain('windowS');
    expect(r.error).toContain('thresholds.silenceDb');
    expect(r.error).toContain('thresholds.bogus: unknown field');
    expect(agent.app.status().configVersion).toBe(0);
    expect(existsSync(join(dir, 'settings.json'))).toBe(false);
  });

  it('honours the retained config topic when its version is newer', async () => {
    await hub.publish(
      'classroom/v1/box-1/config',
      { v: 1, version: 3, config: { windowS: 20 } },
      { retain: true },
    );
    await waitFor(() => agent.app.status().configVersion === 3, 'config v3 applied');
    expect(agent.monitors.get('cam')!.ctx.settings().windowS).toBe(20);
    await hub.publish(
      'classroom/v1/box-1/config',
      { v: 1, version: 2, config: { windowS: 99 } },
      { retain: true },
    );
    await command('rebirth'); // a barrier: commands and config share the connection in order
    expect(agent.monitors.get('cam')!.ctx.settings().windowS).toBe(20);
    // The retained config is the hub's whole desired state: a field it no longer sets reverts.
    await hub.publish(
      'classroom/v1/box-1/config',
      { v: 1, version: 4, config: { thresholds: { silenceDb: -40 } } },
      { retain: true },
    );
    await waitFor(() => agent.app.status().configVersion === 4, 'config v4 applied');
    expect(agent.monitors.get('cam')!.ctx.settings().windowS).toBe(10);
    expect(agent.monitors.get('cam')!.ctx.settings().thresholds.silenceDb).toBe(-40);
    await hub.publish('classroom/v1/box-1/config', '', { retain: true });
  });

  it('sleep stops the sources and publishes sleeping; wake restarts them', async () => {
    expect(await command('sleep')).toMatchObject({ status: 'ok', data: { state: 'sleeping' } });
    await waitFor(
      () => hub.on('/state').some((s) => (s as { state: string }).state === 'sleeping'),
      'sleeping',
    );
    expect(agent.monitors.get('cam')!.running).toBe(false);
    expect(agent.app.status().sleeping).toBe(true);
    expect(await command('wake')).toMatchObject({ status: 'ok', data: { state: 'online' } });
    expect(agent.monitors.get('cam')!.running).toBe(true);
    const states = hub.on('/state') as { state: string }[];
    expect(states.at(-1)!.state).toBe('online');
  });

  it('refuses an expired command without running it', async () => {
    const r = await command('restart-source', { source: 'cam' }, { expiresAt: Date.now() - 1000 });
    expect(r.status).toBe('error');
    expect(r.error).toMatch(/expired/);
    expect(results(r.id).map((x) => x.status)).toEqual(['error']);
    expect(agent.monitors.get('cam')!.restarts).toBe(0);
  });

  it('refuses a duplicate id, also after an agent restart', async () => {
    expect((await command('restart-source', { source: 'cam' }, { id: 'dup-1' })).status).toBe('ok');
    const again = await command('restart-source', { source: 'cam' }, { id: 'dup-1' });
    expect(again).toMatchObject({ status: 'error' });
    expect(again.error).toMatch(/duplicate/);
    expect(agent.monitors.get('cam')!.restarts).toBe(1);
    await agent.app.stop();
    agent = testAgent(testConfig(dir, broker.url));
    await agent.app.start();
    await waitFor(() => agent.app.status().connected, 'reconnected');
    expect((await command('restart-source', { source: 'cam' }, { id: 'dup-1' })).error).toMatch(/duplicate/);
    expect(agent.monitors.get('cam')!.restarts).toBe(0);
  });

  it('answers a malformed command with error when its id is readable', async () => {
    await hub.publish('classroom/v1/box-1/cmd', {
      v: 1,
      id: 'bad-1',
      name: 'format-disk',
      args: {},
      expiresAt: Date.now() + 1000,
    });
    await waitFor(() => results('bad-1').length > 0, 'error result');
    expect(results('bad-1')[0]).toMatchObject({ status: 'error' });
    expect(results('bad-1')[0]!.error).toMatch(/name/);
  });
});

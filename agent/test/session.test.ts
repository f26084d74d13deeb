import { afterEach, describe, expect, it } from 'vitest';
import type { AgentApp } from '../src/app.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { freePort, startBroker, type TestBroker, TestHub, waitFor } from './helpers/broker.js';

interface StateMsg {
  state: string;
  session: number;
}

describe('MQTT session and outbox delivery (in-process aedes + validating acker)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function hubOn(port = 0): Promise<{ broker: TestBroker; hub: TestHub }> {
    const broker = await startBroker(port);
    const hub = new TestHub();
    await hub.connect(broker.url);
    cleanup.push(() => broker.close());
    cleanup.push(() => hub.close());
    return { broker, hub };
  }

  function agentOn(url: string, extra: Record<string, unknown> = {}, sender = {}) {
    const dir = tempDir();
    const a = testAgent(
      testConfig(dir, url, extra),
      sender ? { sender: { ackTimeoutMs: 2000, ...sender } } : {},
    );
    cleanup.push(() => removeDir(dir));
    cleanup.push(() => a.app.stop());
    return { ...a, dir };
  }

  it('buffers while the hub is down and later delivers seq 1..N contiguously, flagged historical', async () => {
    const port = await freePort();
    const { app, monitors } = agentOn(`mqtt://127.0.0.1:${port}`);
    await app.start();
    monitors.get('cam')!.emitWindows(40);
    await waitFor(() => app.status().outbox.records === 40, '40 records buffered');
    expect(app.status().connected).toBe(false);
    const { hub } = await hubOn(port);
    await waitFor(() => hub.sortedSeqs('box-1').length === 40, 'all records delivered');
    expect(hub.sortedSeqs('box-1')).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(hub.duplicates).toBe(0);
    expect(hub.invalid).toBe(0);
    expect(hub.historical.every((h) => h)).toBe(true);
    await waitFor(() => app.status().outbox.records === 0, 'outbox emptied by acks');
    // state online (retained) precedes birth, and both carry the same session
    const topics = hub.messages.map((m) => m.topic.replace('classroom/v1/box-1/', ''));
    expect(topics.indexOf('state')).toBeLessThan(topics.indexOf('birth'));
    const state = hub.on('/state')[0] as StateMsg;
    const birth = hub.on('/birth')[0] as { session: number; sources: unknown[]; configVersion: number };
    expect(state.state).toBe('online');
    expect(birth.session).toBe(state.session);
    expect(birth.sources).toHaveLength(2);
  });

  it('sends live records at once, unflagged, and without waiting for a large backlog', async () => {
    const port = await freePort();
    const { app, monitors } = agentOn(`mqtt://127.0.0.1:${port}`, {}, { window: 1, batchRecords: 20 });
    await app.start();
    const cam = monitors.get('cam')!;
    cam.emitWindows(3000);
    await waitFor(() => app.status().outbox.records === 3000, 'backlog buffered');
    const { hub } = await hubOn(port);
    await waitFor(() => hub.historical.length > 0, 'backlog replay started');
    cam.emitWindows(1);
    await waitFor(() => hub.sortedSeqs('box-1').length === 3001, 'everything delivered', 60_000);
    const liveIndex = hub.historical.indexOf(false);
    expect(liveIndex).toBeGreaterThan(-1);
    // The live batch overtook the rest of the backlog (150 historical batches of 20).
    expect(liveIndex).toBeLessThan(hub.historical.length - 1);
    expect(hub.sortedSeqs('box-1')).toEqual(Array.from({ length: 3001 }, (_, i) => i + 1));
  });

  it('will says lost with the same session; a reconnect takes the next session and resends unacked', async () => {
    const { broker, hub } = await hubOn();
    const { app, monitors } = agentOn(broker.url);
    await app.start();
    await waitFor(() => app.status().connected, 'connected');
    const first = app.status().session;
    hub.acking = false; // records arrive but are never acked: they must come again
    monitors.get('cam')!.emitWindows(5);
    await waitFor(() => hub.messages.some((m) => m.topic.endsWith('/records')), 'records sent once');
    hub.acking = true;
    app.dropConnection();
    await waitFor(() => (hub.on('/state') as StateMsg[]).some((s) => s.state === 'lost'), 'will fired');
    const lost = (hub.on('/state') as StateMsg[]).find((s) => s.state === 'lost')!;
    expect(lost.session).toBe(first);
    await waitFor(() => hub.sortedSeqs('box-1').length === 5, 'resent after reconnect');
    expect(app.status().session).toBeGreaterThan(first);
    const online = (hub.on('/state') as StateMsg[]).filter((s) => s.state === 'online');
    expect(online.at(-1)!.session).toBe(app.status().session);
    await waitFor(() => app.status().outbox.records === 0, 'acked');
  });

  it('publishes a retained offline before a clean stop, and no lost afterwards', async () => {
    const { broker, hub } = await hubOn();
    const { app } = agentOn(broker.url);
    await app.start();
    await waitFor(() => app.status().connected, 'connected');
    const session = app.status().session;
    await app.stop();
    await waitFor(() => (hub.on('/state') as StateMsg[]).some((s) => s.state === 'offline'), 'offline');
    const offline = hub.messages.find((m) => m.topic.endsWith('/state') && m.payload.includes('offline'))!;
    expect(JSON.parse(offline.payload)).toMatchObject({ state: 'offline', session });
    // A late subscriber sees the retained offline.
    const late = new TestHub();
    await late.connect(broker.url);
    cleanup.push(() => late.close());
    await waitFor(() => late.on('/state').length > 0, 'retained state');
    expect(late.on('/state')[0]).toMatchObject({ state: 'offline', session });
    expect((hub.on('/state') as StateMsg[]).some((s) => s.state === 'lost')).toBe(false);
  });

  it('when the hub comes back behind a broker that stayed up: rebirth and resend what it missed', async () => {
    const { broker, hub } = await hubOn();
    const { app, monitors } = agentOn(broker.url, {}, { ackTimeoutMs: 600_000 });
    await hub.publish('classroom/v1/hub/state', { v: 1, online: true, ts: Date.now() }, { retain: true });
    await app.start();
    await waitFor(() => app.status().connected && hub.on('/birth').length === 1, 'first birth');
    await hub.publish('classroom/v1/hub/state', { v: 1, online: false, ts: Date.now() }, { retain: true });
    hub.acking = false; // the hub is "down": what arrives now is lost
    monitors.get('cam')!.emitWindows(4);
    const sentRecords = () =>
      hub.messages
        .filter((m) => m.topic.endsWith('/records'))
        .reduce((n, m) => n + (JSON.parse(m.payload) as { records: unknown[] }).records.length, 0);
    await waitFor(() => sentRecords() === 4, 'records sent into the void');
    hub.acking = true;
    await hub.publish('classroom/v1/hub/state', { v: 1, online: true, ts: Date.now() }, { retain: true });
    await waitFor(() => hub.sortedSeqs('box-1').length === 4, 'resent after the hub came back');
    expect(hub.on('/birth').length).toBe(2);
    expect(app.status().session).toBe((hub.on('/birth')[0] as { session: number }).session); // same connection
    await hub.publish('classroom/v1/hub/state', '', { retain: true });
  });

  it('stops promptly while the broker is unreachable, keeping what it buffered', async () => {
    const port = await freePort();
    const { app, monitors, dir } = agentOn(`mqtt://127.0.0.1:${port}`);
    await app.start();
    monitors.get('cam')!.emitWindows(2);
    await waitFor(() => app.status().outbox.records === 2, 'buffered');
    const t0 = Date.now();
    await app.stop();
    // What this guards against is a stop that waits on the reconnect: MQTT.js's 10 s connect timeout
    // (agent/src/session/connection.ts) or forever. Under that, with room for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(9000);
    const again = testAgent(testConfig(dir, `mqtt://127.0.0.1:${port}`));
    await again.app.start();
    expect(again.app.status().outbox).toMatchObject({ records: 2, lastSeq: 2 });
    await again.app.stop();
  });

  it('refuses malformed hub messages, counts them, and keeps delivering', async () => {
    const { broker, hub } = await hubOn();
    const { app, monitors } = agentOn(broker.url);
    await app.start();
    await waitFor(() => app.status().connected, 'connected');
    await hub.publish('classroom/v1/box-1/ack', { v: 1, ranges: [[5, 1]] });
    await hub.publish('classroom/v1/box-1/ack', { v: 2, ranges: [[1, 1]] });
    await hub.publish('classroom/v1/box-1/config', { v: 1, version: 'x', config: {} });
    await waitFor(() => app.status().malformedInbound === 3, 'three refusals');
    monitors.get('cam')!.emitWindows(3);
    await waitFor(() => hub.sortedSeqs('box-1').length === 3, 'delivered');
    await waitFor(() => app.status().outbox.records === 0, 'acked');
    expect(app.status().configVersion).toBe(0);
  });

  it('at its bound drops old capture windows and the hub learns the dropped range', async () => {
    const port = await freePort();
    const { app, monitors } = agentOn(`mqtt://127.0.0.1:${port}`, { outbox: { maxRecords: 100 } });
    await app.start();
    monitors.get('cam')!.emitWindows(150);
    await waitFor(() => app.status().outbox.lastSeq >= 151, 'all appended');
    expect(app.status().outbox.records).toBeLessThanOrEqual(100);
    const { hub } = await hubOn(port);
    const total = app.status().outbox.records;
    await waitFor(() => hub.sortedSeqs('box-1').length === total, 'remaining delivered');
    const drops = (hub.records.get('box-1') ?? []).filter(
      (r) => r.kind === 'event' && r.type === 'outbox.dropped',
    );
    expect(drops.length).toBeGreaterThan(0);
    const got = new Set(hub.sortedSeqs('box-1'));
    const last = Math.max(...got);
    // Every seq up to the last one is either delivered or inside a reported dropped range.
    const dropped = new Set<number>();
    let droppedCount = 0;
    for (const d of drops) {
      const { fromSeq, toSeq, count } = (
        d as unknown as { detail: { fromSeq: number; toSeq: number; count: number } }
      ).detail;
      droppedCount += count;
      for (let s = fromSeq; s <= toSeq; s++) dropped.add(s);
    }
    for (let s = 1; s <= last; s++) expect(got.has(s) || dropped.has(s)).toBe(true);
    expect(droppedCount).toBe(app.status().outbox.droppedTotal);
  });
});

export type { AgentApp };

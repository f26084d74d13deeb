import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { freePort, waitFor } from './helpers/broker.js';
import {
  addAgent,
  exited,
  freeUdpPort,
  type Hub,
  hubRecords,
  kill,
  killAll,
  type Proc,
  readOutbox,
  startAgent,
  startCamera,
  startHub,
  writeAgentConfig,
} from './helpers/procs.js';

// A real hub process, a real agent process and a synthetic UDP camera (docs/agent.md "Tests").
describe('end to end: classroom-hub + classroom-agent on a UDP test stream', () => {
  let hubDir: string;
  let agentDir: string;
  let configFile: string;
  let mqttPort: number;
  let hub: Hub | null = null;
  let agent: Proc | null = null;

  beforeAll(async () => {
    hubDir = tempDir('e2e-hub-');
    agentDir = tempDir('e2e-agent-');
    mqttPort = await freePort();
    const udp = await freeUdpPort();
    const password = await addAgent(hubDir, 'box-e2e', 'A101');
    startCamera(udp);
    configFile = writeAgentConfig(agentDir, {
      agent: 'box-e2e',
      room: { id: 'A101', name: 'A101', building: 'A', floor: '1', campus: 'main' },
      broker: {
        url: `mqtt://127.0.0.1:${mqttPort}`,
        username: 'box-e2e',
        password,
        keepaliveS: 2,
        reconnectMinMs: 200,
        reconnectMaxMs: 1500,
      },
      dataDir: './data',
      sources: [{ id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${udp}` }],
      windowS: 1,
      telemetryIntervalS: 2,
      logLevel: 'info',
    });
  });

  afterAll(() => {
    killAll();
    removeDir(hubDir);
    removeDir(agentDir);
  });

  const dataDir = () => `${agentDir}/data`;
  const availability = async (): Promise<string> =>
    (await hub!.api<{ availability: string }>('/api/agents/box-e2e')).availability;

  it('buffers while the hub is down at start, then delivers seq 1..N contiguously', async () => {
    agent = startAgent(configFile);
    const buffered = await waitFor(
      async () => {
        const o = await readOutbox(dataDir());
        return o.pending.length >= 3 ? o.pending.length : 0;
      },
      'windows buffered in the outbox',
      45_000,
    );
    hub = await startHub(hubDir, mqttPort);
    const recs = await waitFor(
      async () => {
        const r = await hubRecords(hub!, 'box-e2e');
        return r.length >= buffered && r.some((x) => !x.historical) ? r : null;
      },
      'buffered and live records at the hub',
      45_000,
    );
    const seqs = recs.map((r) => r.record.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // what waited in the outbox arrives flagged historical; later windows are live
    expect(recs.filter((r) => r.record.seq <= buffered).every((r) => r.historical)).toBe(true);
    expect(recs.some((r) => !r.historical)).toBe(true);
    await waitFor(async () => (await availability()) === 'online', 'agent online at the hub');
  });

  it('kill -9 mid-flight, then a restart: no gaps, no duplicates; the will marks it lost', async () => {
    const before = (await readOutbox(dataDir())).lastSeq;
    kill(agent!);
    await exited(agent!);
    await waitFor(async () => (await availability()) === 'lost', 'lost after keepalive', 30_000);
    agent = startAgent(configFile);
    await waitFor(
      async () => {
        const r = await hubRecords(hub!, 'box-e2e');
        return r.some((x) => x.record.seq >= before + 3);
      },
      'records after the restart',
      45_000,
    );
    await waitFor(async () => (await availability()) === 'online', 'online again');
    kill(agent, 'SIGTERM');
    expect(await exited(agent)).toBe(0);
    await waitFor(async () => (await availability()) === 'offline', 'offline after SIGTERM');
    const { lastSeq, pending } = await readOutbox(dataDir());
    const recs = await hubRecords(hub!, 'box-e2e');
    const seqs = recs.map((r) => r.record.seq);
    expect(new Set(seqs).size).toBe(seqs.length); // stored exactly once
    const have = new Set([...seqs, ...pending]);
    for (let s = 1; s <= lastSeq; s++) expect(have.has(s), `seq ${s} missing`).toBe(true);
    expect(Math.max(...seqs)).toBeLessThanOrEqual(lastSeq);
  });

  it('the outbox bound: old windows dropped while the hub is unreachable, the drop event stored by the hub', async () => {
    const password = await addAgent(hubDir, 'box-1', 'A101');
    const dir = tempDir('e2e-bound-');
    try {
      const dead = await freePort();
      const extra = { outbox: { maxRecords: 100 } };
      const offline = testAgent(testConfig(dir, `mqtt://127.0.0.1:${dead}`, extra));
      await offline.app.start();
      offline.monitors.get('cam')!.emitWindows(150);
      await waitFor(() => offline.app.status().outbox.lastSeq >= 151, 'appended');
      await offline.app.stop();
      // Same box, now pointed at the hub: the outbox (and its drop event) survived the restart.
      const cfg = testConfig(dir, `mqtt://127.0.0.1:${mqttPort}`, extra);
      cfg.broker.password = password;
      const online = testAgent(cfg);
      await online.app.start();
      try {
        await waitFor(() => online.app.status().outbox.records === 0, 'all acked by the hub', 45_000);
        const recs = await hubRecords(hub!, 'box-1');
        const drops = recs.filter((r) => r.record.type === 'outbox.dropped');
        expect(drops).toHaveLength(1);
        const { fromSeq, toSeq, count } = (
          drops[0]!.record as unknown as { detail: { fromSeq: number; toSeq: number; count: number } }
        ).detail;
        expect(count).toBe(toSeq - fromSeq + 1);
        const seqs = new Set(recs.map((r) => r.record.seq));
        const last = Math.max(...seqs);
        for (let q = 1; q <= last; q++)
          expect(seqs.has(q) || (q >= fromSeq && q <= toSeq), `seq ${q}`).toBe(true);
        expect(seqs.size + count).toBe(last);
      } finally {
        await online.app.stop();
      }
    } finally {
      removeDir(dir);
    }
  });

  it('wrong credentials: refused by the hub, reported in status, retried with backoff', async () => {
    const dir = tempDir('e2e-badpw-');
    const cfg = testConfig(dir, `mqtt://127.0.0.1:${mqttPort}`);
    cfg.broker.password = 'not-the-password';
    const a = testAgent(cfg);
    try {
      await a.app.start();
      await waitFor(() => a.app.status().brokerError, 'a connection error', 30_000);
      expect(a.app.status().connected).toBe(false);
      expect(a.app.status().brokerError).toMatch(/not authorized|bad user ?name or password/i);
    } finally {
      await a.app.stop();
      removeDir(dir);
    }
  });
});

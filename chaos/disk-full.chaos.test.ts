// A full disk on the box and on the hub, each on a tmpfs of a few MiB filled to ENOSPC under load
// (docs/agent.md and docs/hub.md hold the full-disk contract). Box: the outbox keeps accepting
// records by dropping the oldest capture windows, reports disk.low and outbox.dropped, does not
// crash, and delivers by itself once space returns. Hub: nothing is acked while commits fail (the
// boxes keep their records), /api/health says why, and it recovers by itself.
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { type SpawnedHub, spawnHub, TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { freePort } from '../hub/test/pg-helpers.js';
import { FlakyProxy } from '../simulators/src/proxy.js';
import { type RealAgent, readOutbox, startRealAgent } from './lib/agent.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { droppedRanges, storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';
import { mountTmpfs, type Tmpfs } from './lib/tmpfs.js';
import { waitFor } from './lib/wait.js';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
  }
});

const ROOMS = 20;
const AGENT = 'disk-box';

describe('chaos: full disk', () => {
  it('box: keeps making records on a full disk, reports it, and delivers once space returns', async () => {
    await chaosCase(
      {
        id: 'disk-full-box',
        order: 6,
        title: 'Full disk on the box',
        load: describeLoad(
          ROOMS,
          ' + 1 real classroom-agent with its outbox on a 16 MiB tmpfs (6 MiB reserve)',
        ),
      },
      async ({ faults, notes }) => {
        const hubDir = tempDir('chaos-diskbox-hub-');
        cleanups.push(() => hubDir.remove());
        const hub: RunningHub = await startHub({
          dataDir: hubDir.dir,
          httpPort: 0,
          mqttPort: 0,
          adminToken: TOKEN,
          log: log.child({ module: 'hub' }),
        });
        cleanups.push(() => hub.stop());
        const api = `http://127.0.0.1:${hub.httpPort}`;
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
          rooms: ROOMS,
          prefix: 'dbx',
          api,
          adminToken: TOKEN,
        });
        const proxy = new FlakyProxy(log, { targetHost: '127.0.0.1', targetPort: hub.mqttPort });
        const port = await proxy.start();
        cleanups.push(() => proxy.stop());
        const disk: Tmpfs = mountTmpfs('chaos-boxdisk-', 16);
        cleanups.push(() => disk.unmount());
        const agent: RealAgent = await startRealAgent({
          agent: AGENT,
          room: 'DISK-REAL',
          api,
          adminToken: TOKEN,
          brokerUrl: `mqtt://127.0.0.1:${port}`,
          dataDir: `${disk.dir}/data`,
          // The reserve is written only while twice its size is free (docs/agent.md "Full disk").
          extra: { outbox: { reserveBytes: 6 * 1024 * 1024 } },
        });
        cleanups.push(() => agent.stop());
        const storedOf = async () => (await storedRecords(api, TOKEN, (a) => a === AGENT)).get(AGENT) ?? [];
        await waitFor(
          async () => (await storedOf()).length >= 5,
          'the real agent delivering',
          90_000,
          500,
          () => agent.output(),
        );
        const pid = agent.proc.child.pid;

        // The hub is out of reach, so everything the box makes must go to its outbox on a full disk.
        proxy.cut();
        // A backlog first, so that drop-oldest has capture windows to give up when the disk fills.
        await waitFor(
          async () => (await readOutbox(agent.dataDir)).pending.length >= 10,
          'a backlog in the box outbox',
          60_000,
          500,
        );
        const filled = disk.fill();
        const atFull = (await readOutbox(agent.dataDir)).lastSeq;
        faults.push(
          `link cut until 10 records waited in the outbox, then the box's 16 MiB tmpfs filled to ENOSPC (${(filled / 1048576).toFixed(1)} MiB of filler)`,
        );
        await waitFor(
          async () => (await readOutbox(agent.dataDir)).lastSeq >= atFull + 10,
          'the agent still making records on the full disk (10 more seqs)',
          60_000,
          500,
          () => `agent exit ${agent.proc.child.exitCode}; ${agent.output().slice(-1500)}`,
        );
        expect(agent.proc.child.exitCode).toBeNull();
        disk.free();
        proxy.restore();
        faults.push('space returned and link restored, with no restart of the agent');

        await progress(fleet, 100, 'fleet load after the box disk came back');
        const { lastSeq } = await readOutbox(agent.dataDir);
        const covered = (records: Awaited<ReturnType<typeof storedOf>>) => {
          const have = new Set(records.map((r) => r.record.seq));
          const dropped = droppedRanges(records);
          let n = 0;
          for (let s = 1; s <= lastSeq; s++)
            if (have.has(s) || dropped.some((d) => s >= d.from && s <= d.to)) n++;
          return n;
        };
        await waitFor(
          async () => covered(await storedOf()) >= lastSeq,
          `every seq up to ${lastSeq} of the box stored or reported dropped`,
          90_000,
          500,
          () => agent.output().slice(-1500),
        );
        expect(agent.proc.child.pid).toBe(pid);
        expect(agent.proc.child.exitCode).toBeNull();
        const mine = await storedOf();
        const types = new Set(mine.map((r) => r.record.type));
        if (!types.has('disk.low'))
          throw new Error(`no disk.low stored for the box; it said: ${agent.output().slice(-2500)}`);
        notes.push(
          `agent process never restarted; events stored: ${['disk.low', 'outbox.dropped'].filter((t) => types.has(t)).join(', ')}`,
        );

        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('dbx-') || a === AGENT);
        stored.set(
          AGENT,
          (stored.get(AGENT) ?? []).filter((r) => r.record.seq <= lastSeq),
        );
        const result = tally([...ledgers, { agent: AGENT, lastSeq, dropped: droppedRanges(mine) }], stored);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0 });
        return result;
      },
    );
  });

  it('hub: acks nothing it cannot commit, says why in /api/health, and recovers by itself', async () => {
    await chaosCase(
      {
        id: 'disk-full-hub',
        order: 6.5,
        title: 'Full disk on the hub',
        load: describeLoad(ROOMS, '; hub process with its SQLite data dir on a 32 MiB tmpfs'),
      },
      async ({ faults, notes }) => {
        const disk: Tmpfs = mountTmpfs('chaos-hubdisk-', 32);
        cleanups.push(() => disk.unmount());
        const [httpPort, mqttPort] = [await freePort(), await freePort()];
        const hub: SpawnedHub = await spawnHub(`${disk.dir}/hub`, [
          '--http-port',
          String(httpPort),
          '--mqtt-port',
          String(mqttPort),
        ]);
        cleanups.push(() => hub.kill9());
        const api = `http://127.0.0.1:${httpPort}`;
        const health = async () => {
          const res = await fetch(`${api}/api/health`);
          return { status: res.status, text: await res.text() };
        };
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${mqttPort}`,
          rooms: ROOMS,
          prefix: 'dhb',
          api,
          adminToken: TOKEN,
        });
        await progress(fleet, 200, 'load before the disk fills');
        const filled = disk.fill();
        faults.push(
          `the hub's 32 MiB tmpfs filled to ENOSPC under load (${(filled / 1048576).toFixed(1)} MiB of filler)`,
        );
        const full = await waitFor(
          async () => {
            const h = await health();
            // docs/hub.md "Full disk": 503 {"status":"degraded","store":"disk full",…} while commits fail.
            const body = JSON.parse(h.text) as { status?: string; store?: string };
            return h.status === 503 && body.status === 'degraded' && body.store === 'disk full' ? h : null;
          },
          '/api/health saying the disk is full',
          60_000,
          500,
          () => hub.output().slice(-1500),
        );
        notes.push(`/api/health while full: ${full.status} ${full.text.slice(0, 160)}`);
        const batches = fleet.stats.batches;
        await waitFor(
          () => fleet.stats.batches >= batches + ROOMS,
          'boxes publishing into the full hub',
          60_000,
        );
        expect(hub.proc.exitCode).toBeNull();
        disk.free();
        faults.push('space returned, with no restart of the hub');
        await waitFor(
          async () => {
            const h = await health();
            return h.status === 200 && (JSON.parse(h.text) as { status?: string }).status === 'ok';
          },
          '/api/health ok again',
          60_000,
          500,
        );
        await progress(fleet, 200, 'load after the hub disk came back', 90_000);
        expect(hub.proc.exitCode).toBeNull();
        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('dhb-'));
        const result = tally(ledgers, stored);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});

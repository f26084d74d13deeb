// Power loss of a box in the middle of a batch: a real classroom-agent is killed with SIGKILL (and
// its ffmpeg with it) after the hub has stored a batch but before the ack got back through a slow
// link, three times, beside a fleet of protocol-level boxes. The agent's SQLite outbox survives each
// kill (DESIGN.md: durable outbox), it resends what was not acked, and the hub stores each record once.
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { FlakyProxy } from '../simulators/src/proxy.js';
import { exitOf, kill, type RealAgent, readOutbox, startRealAgent } from './lib/agent.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';
import { waitFor } from './lib/wait.js';

const t = tempDir('chaos-power-');
let hub: RunningHub | null = null;
let proxy: FlakyProxy | null = null;
let agent: RealAgent | null = null;
afterAll(async () => {
  agent?.stop();
  await proxy?.stop();
  await hub?.stop();
  t.remove();
});

const ROOMS = 20;
const KILLS = 3;
const AGENT = 'power-box';

describe('chaos: box power loss mid-batch', () => {
  it('stores every record of a real agent killed -9 mid-batch exactly once', async () => {
    await chaosCase(
      {
        id: 'power-loss',
        order: 4,
        title: 'Box power loss mid-batch (kill -9 of a real agent)',
        load: describeLoad(ROOMS, ' + 1 real classroom-agent (UDP camera, 1 s windows); SQLite store'),
      },
      async ({ faults, notes }) => {
        hub = await startHub({
          dataDir: t.dir,
          httpPort: 0,
          mqttPort: 0,
          adminToken: TOKEN,
          log: log.child({ module: 'hub' }),
        });
        const api = `http://127.0.0.1:${hub.httpPort}`;
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
          rooms: ROOMS,
          prefix: 'pwr',
          api,
          adminToken: TOKEN,
        });
        proxy = new FlakyProxy(log, { targetHost: '127.0.0.1', targetPort: hub.mqttPort });
        const port = await proxy.start();
        agent = await startRealAgent({
          agent: AGENT,
          room: 'PWR-REAL',
          api,
          adminToken: TOKEN,
          brokerUrl: `mqtt://127.0.0.1:${port}`,
        });
        const storedOf = async () => (await storedRecords(api, TOKEN, (a) => a === AGENT)).get(AGENT) ?? [];
        await waitFor(
          async () => (await storedOf()).length >= 5,
          'the real agent delivering',
          90_000,
          500,
          () => agent!.output(),
        );
        const killedWith: number[] = [];
        const storedButHeld: number[] = [];
        for (let i = 1; i <= KILLS; i++) {
          // A backlog builds up while the link is cut...
          proxy.cut();
          const before = (await readOutbox(agent.dataDir)).lastSeq;
          await waitFor(
            async () => (await readOutbox(agent!.dataDir)).pending.length >= 8,
            'a backlog in the agent outbox',
            60_000,
            500,
          );
          // ...then comes back slow: the batch reaches the hub, the ack is still on its way back.
          const storedBefore = (await storedOf()).length;
          proxy.setDelay(1500);
          proxy.restore();
          await waitFor(
            async () => (await storedOf()).length > storedBefore,
            'the backlog batch stored',
            60_000,
            100,
          );
          kill(agent.proc, 'SIGKILL');
          await exitOf(agent.proc);
          proxy.setDelay(0);
          const o = await readOutbox(agent.dataDir);
          // Mid-batch: records the hub already holds are still in the dead box's outbox (unacked).
          const atHub = new Set((await storedOf()).map((r) => r.record.seq));
          storedButHeld.push(o.pending.filter((seq) => atHub.has(seq)).length);
          killedWith.push(o.pending.length);
          expect(o.lastSeq).toBeGreaterThan(before);
          agent.restart();
          await progress(fleet, 100, `fleet load after agent kill ${i}`);
        }
        faults.push(
          `${KILLS}× SIGKILL of the agent (process group, with its ffmpeg) after the hub stored its backlog batch and before the ack came back (link cut, then 1.5 s delay each way); restarted on the same outbox`,
        );
        notes.push(
          `at the kills the outbox held ${killedWith.join(', ')} records, of which ${storedButHeld.join(', ')} were already stored at the hub but unacked (resent after the restart, not stored twice)`,
        );
        expect(storedButHeld.some((n) => n > 0)).toBe(true);
        // The agent's own ledger: every seq it assigned up to now must reach the hub exactly once.
        const { lastSeq } = await readOutbox(agent.dataDir);
        await waitFor(
          async () =>
            new Set((await storedOf()).map((r) => r.record.seq).filter((s) => s <= lastSeq)).size >= lastSeq,
          `every seq up to ${lastSeq} of the real agent stored`,
          90_000,
          500,
        );
        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('pwr-') || a === AGENT);
        stored.set(
          AGENT,
          (stored.get(AGENT) ?? []).filter((r) => r.record.seq <= lastSeq),
        );
        const result = tally([...ledgers, { agent: AGENT, lastSeq }], stored);
        expect(killedWith.some((n) => n > 0)).toBe(true);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});

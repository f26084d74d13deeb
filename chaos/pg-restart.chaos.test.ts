// A PostgreSQL restart in mid-load (a real cluster from hub/test/pg-helpers.ts): while the database
// is down commits fail and nothing is acked, the boxes keep their records and resend, the pool
// reconnects by itself once it is back (docs/hub-postgres.md), and each record is stored once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { startPostgres, type TestPostgres } from '../hub/test/pg-helpers.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';
import { waitFor } from './lib/wait.js';

const t = tempDir('chaos-pg-');
let pgServer: TestPostgres | null = null;
let hub: RunningHub | null = null;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 90_000);
afterAll(async () => {
  await hub?.stop();
  await pgServer?.stop();
  t.remove();
}, 90_000);

const ROOMS = 30;

describe('chaos: PostgreSQL restart', () => {
  it('stores every record exactly once across PostgreSQL restarts under load', async () => {
    await chaosCase(
      {
        id: 'pg-restart',
        order: 7,
        title: 'PostgreSQL restart in mid-load',
        load: describeLoad(ROOMS, '; hub on --database postgres:// (PostgreSQL 15)'),
      },
      async ({ faults, notes }) => {
        const database = await pgServer!.createDatabase('chaos');
        hub = await startHub({
          dataDir: t.dir,
          database,
          httpPort: 0,
          mqttPort: 0,
          adminToken: TOKEN,
          log: log.child({ module: 'hub' }),
        });
        const api = `http://127.0.0.1:${hub.httpPort}`;
        // docs/hub.md "Full disk": failed commits are counted, and /api/health says degraded.
        const commitFailures = async (): Promise<number> => {
          const text = await (
            await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
          ).text();
          let n = 0;
          for (const line of text.split('\n'))
            if (line.startsWith('classroom_hub_store_commit_failures_total'))
              n += Number(line.split(' ').pop());
          return n;
        };
        const degraded = async (): Promise<boolean> => {
          const res = await fetch(`${api}/api/health`);
          return res.status === 503 && ((await res.json()) as { status?: string }).status === 'degraded';
        };
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
          rooms: ROOMS,
          prefix: 'pgr',
          api,
          adminToken: TOKEN,
        });
        await progress(fleet, 200, 'load before the first restart');
        const RESTARTS = 2;
        let batchesWhileDown = 0;
        for (let i = 1; i <= RESTARTS; i++) {
          const failuresBefore = await commitFailures();
          const batchesBefore = fleet.stats.batches;
          await pgServer!.halt();
          // Down until the hub has failed commits and every box has published into the outage.
          await waitFor(
            async () => (await commitFailures()) > failuresBefore && (await degraded()),
            'a failed commit counted and /api/health degraded while PostgreSQL is down',
            60_000,
          );
          await waitFor(
            () => fleet.stats.batches >= batchesBefore + ROOMS,
            'boxes publishing while PostgreSQL is down',
            60_000,
          );
          batchesWhileDown += fleet.stats.batches - batchesBefore;
          await pgServer!.resume();
          await progress(fleet, 200, `load after PostgreSQL restart ${i}`, 90_000);
        }
        faults.push(
          `${RESTARTS}× PostgreSQL fast shutdown (connections dropped) and start on the same data dir, each held until commits failed and /api/health said degraded; ${await commitFailures()} failed commits`,
        );
        notes.push(
          `${batchesWhileDown} batches published while the database was down, resent after it came back`,
        );
        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('pgr-'));
        const result = tally(ledgers, stored);
        expect(await commitFailures()).toBeGreaterThan(0);
        expect(result.produced).toBeGreaterThan(ROOMS * 2 * 4);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});

// kill -9 of the hub process, three times under load: SQLite's WAL keeps every committed record,
// nothing is acked before it is committed (DESIGN.md: MQTT protocol v1, acks), so the boxes resend
// the rest after they reconnect and the hub stores each record exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { type SpawnedHub, spawnHub, TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { freePort } from '../hub/test/pg-helpers.js';
import { describeLoad, drain, progress, startFleet } from './lib/fleet.js';
import { storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';

const t = tempDir('chaos-kill-');
let hub: SpawnedHub | null = null;
afterAll(async () => {
  await hub?.kill9();
  t.remove();
});

const ROOMS = 30;
const KILLS = 3;

describe('chaos: hub kill -9', () => {
  it('stores every record exactly once across repeated kill -9 of the hub', async () => {
    await chaosCase(
      {
        id: 'hub-kill',
        order: 1,
        title: 'Hub kill -9, repeatedly',
        load: describeLoad(ROOMS, '; SQLite store'),
      },
      async ({ faults, notes }) => {
        const [httpPort, mqttPort] = [await freePort(), await freePort()];
        const args = ['--http-port', String(httpPort), '--mqtt-port', String(mqttPort)];
        hub = await spawnHub(t.dir, args);
        const api = `http://127.0.0.1:${httpPort}`;
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${mqttPort}`,
          rooms: ROOMS,
          prefix: 'kill',
          api,
          adminToken: TOKEN,
        });
        await progress(fleet, 200, 'load before the first kill');
        for (let i = 1; i <= KILLS; i++) {
          await hub.kill9();
          hub = await spawnHub(t.dir, args);
          // The next kill comes only once the boxes are back and delivering to the new process.
          await fleet.waitAllOnline(60_000);
          await progress(fleet, 200, `load after restart ${i}`);
        }
        faults.push(
          `${KILLS}× SIGKILL of the hub process (each after ≥200 acked records), restarted on the same data dir`,
        );
        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('kill-'));
        notes.push(
          `${fleet.stats.connects} box connects, ${fleet.stats.duplicates} duplicate batches published`,
        );
        const result = tally(ledgers, stored);
        expect(result.produced).toBeGreaterThan(ROOMS * 2 * 4);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});

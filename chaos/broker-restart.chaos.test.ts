// A restart of the external broker (Debian mosquitto, no persistence) under load: every session and
// every message queued in the broker is gone. The hub reconnects and subscribes again, the boxes
// reconnect and resend what was not acked (DESIGN.md: acks), and each record is stored exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { freePort } from '../hub/test/pg-helpers.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { storedRecords, tally } from './lib/ledger.mjs';
import { type Mosquitto, startMosquitto } from './lib/mosquitto.js';
import { chaosCase } from './lib/report.js';

const t = tempDir('chaos-broker-');
let hub: RunningHub | null = null;
let broker: Mosquitto | null = null;
afterAll(async () => {
  await hub?.stop();
  await broker?.stop();
  t.remove();
});

const ROOMS = 30;

describe('chaos: external broker restart', () => {
  it('stores every record exactly once across mosquitto restarts (clean and kill -9)', async () => {
    await chaosCase(
      {
        id: 'broker-restart',
        order: 2,
        title: 'External broker (mosquitto) restart',
        load: describeLoad(ROOMS, '; hub on --broker mqtt://, SQLite store'),
      },
      async ({ faults, notes }) => {
        broker = await startMosquitto(await freePort());
        hub = await startHub({
          dataDir: t.dir,
          httpPort: 0,
          mqttPort: 0,
          adminToken: TOKEN,
          broker: broker.url,
          log: log.child({ module: 'hub' }),
        });
        const api = `http://127.0.0.1:${hub.httpPort}`;
        const fleet = await startFleet({
          brokerUrl: broker.url,
          rooms: ROOMS,
          prefix: 'brk',
          api: null,
          adminToken: null,
        });
        await progress(fleet, 200, 'load before the first restart');
        for (const signal of ['SIGTERM', 'SIGKILL', 'SIGKILL'] as const) {
          await broker.restart(signal);
          await fleet.waitAllOnline(60_000);
          await progress(fleet, 200, `load after a ${signal} restart of mosquitto`);
        }
        faults.push(
          'mosquitto restarted 3× (SIGTERM once, SIGKILL twice), persistence off: sessions and queued messages lost',
        );
        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('brk-'));
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

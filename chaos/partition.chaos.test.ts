// A partition between the boxes and the hub through a TCP proxy (simulators/src/proxy.ts): first a
// slow link (every chunk held 400 ms each way), then a black hole (sockets stay open, nothing passes:
// only MQTT keepalive notices), then a cut (every connection reset, new ones refused). After each
// the link comes back and every record is stored exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { FlakyProxy } from '../simulators/src/proxy.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';
import { waitFor } from './lib/wait.js';

const t = tempDir('chaos-partition-');
let hub: RunningHub | null = null;
let proxy: FlakyProxy | null = null;
afterAll(async () => {
  await proxy?.stop();
  await hub?.stop();
  t.remove();
});

const ROOMS = 30;

describe('chaos: partition', () => {
  it('stores every record exactly once through delay, black hole and cut of the link', async () => {
    await chaosCase(
      {
        id: 'partition',
        order: 3,
        title: 'Partition through a TCP proxy: delay, black hole, cut',
        load: describeLoad(ROOMS, '; SQLite store; keepalive 5 s'),
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
        proxy = new FlakyProxy(log, { targetHost: '127.0.0.1', targetPort: hub.mqttPort });
        const port = await proxy.start();
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${port}`,
          rooms: ROOMS,
          prefix: 'part',
          api,
          adminToken: TOKEN,
        });
        await progress(fleet, 200, 'load before the partition');

        proxy.setDelay(400);
        await progress(fleet, 200, 'load through a 400 ms link');
        proxy.setDelay(0);
        faults.push('400 ms added to every chunk each way while 200 records were acked');

        const blackholeStart = Date.now();
        proxy.blackhole();
        // Held until every box has noticed on its own (keepalive timeout), however long that takes.
        await waitFor(() => fleet.onlineCount() === 0, 'every box noticing the black hole', 90_000);
        proxy.restore();
        faults.push(
          `black hole (open sockets, nothing forwarded) until all ${ROOMS} boxes timed out: ${((Date.now() - blackholeStart) / 1000).toFixed(0)} s`,
        );
        await fleet.waitAllOnline(90_000);
        await progress(fleet, 200, 'load after the black hole');

        const cutStart = Date.now();
        proxy.cut();
        await waitFor(() => fleet.onlineCount() === 0, 'every box seeing the cut', 30_000);
        // Keep it down until boxes have tried and been refused at least once more.
        const refusedFrom = fleet.stats.connects;
        await waitFor(
          () => fleet.stats.connects >= refusedFrom + ROOMS,
          'reconnects refused during the cut',
          60_000,
        );
        proxy.restore();
        faults.push(
          `cut (every connection reset, reconnects refused) for ${((Date.now() - cutStart) / 1000).toFixed(0)} s`,
        );
        await fleet.waitAllOnline(90_000);
        await progress(fleet, 200, 'load after the cut');

        const ledgers = await drain(fleet);
        const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('part-'));
        notes.push(
          `${fleet.stats.connects} box connects, ${fleet.stats.duplicates} duplicate batches published, ${proxy.stats().accepted} proxied connections, ${proxy.stats().swallowedBytes} bytes swallowed by the black hole`,
        );
        const result = tally(ledgers, stored);
        expect(result.produced).toBeGreaterThan(ROOMS * 2 * 4);
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});

// The schema tap itself: it accepts what protocol v1 allows and reports what it does not, so the
// end-to-end tests that use it (scenarios.test.ts) cannot pass by checking nothing.
import { describe, expect, it } from 'vitest';
import { SchemaTap } from './schema-tap.js';

describe('schema tap', () => {
  it('counts valid messages and reports a wrong version, a missing field and an unknown topic', () => {
    const tap = new SchemaTap();
    tap.check('classroom/v1/hub/state', JSON.stringify({ v: 1, online: true, ts: 1_800_000_000_000 }));
    tap.check('classroom/v1/box-1/state', JSON.stringify({ v: 1, state: 'online', session: 2, ts: 1 }));
    tap.check('classroom/v1/box-1/ack', JSON.stringify({ v: 1, ranges: [[1, 3]] }));
    expect(tap.report()).toEqual({ counts: { 'hub-state': 1, state: 1, ack: 1 }, failures: [] });
    tap.check('classroom/v1/box-1/state', JSON.stringify({ v: 2, state: 'online', session: 2, ts: 1 }));
    tap.check('classroom/v1/box-1/cmd/result', JSON.stringify({ v: 1, status: 'ok' }));
    tap.check('classroom/v1/box-1/nonsense', '{}');
    tap.check('classroom/v1/box-1/telemetry', 'not json');
    const r = tap.report();
    expect(r.failures).toHaveLength(4);
    expect(r.failures[0]).toMatch(/^classroom\/v1\/box-1\/state: /);
    expect(r.failures[1]).toMatch(/cmd\/result: .*id/);
    expect(r.failures[2]).toMatch(/no message of protocol v1/);
    expect(r.failures[3]).toMatch(/not JSON/);
  });
});

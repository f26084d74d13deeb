// Property-based tests of the protocol parsers (src/parse.ts) with fast-check: whatever bytes arrive,
// decodeJson and parseMessage never throw and refuse with a code and a reason; every valid message
// the generators make is accepted and survives a JSON round-trip unchanged; and each kind of
// damage to a valid message is refused with the code and path that name it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson, MESSAGES, type MessageName, parseMessage } from '../src/index.js';
import { LIMITS } from '../src/limits.js';
import { ack, agentState, birth, command, recordsBatch, telemetry } from './arbitraries.js';

const CODES = ['too_large', 'not_utf8', 'bad_json', 'too_deep', 'forbidden_key', 'bad_version', 'invalid'];
const NAMES = Object.keys(MESSAGES) as MessageName[];
const RUNS = { numRuns: 300 };

function expectRefusalShape(r: ReturnType<typeof decodeJson>): void {
  if (r.ok) return;
  expect(CODES).toContain(r.error.code);
  expect(typeof r.error.message).toBe('string');
  expect(r.error.message.length).toBeGreaterThan(0);
  if (r.error.path) expect(r.error.message.startsWith(`${r.error.path}: `)).toBe(true);
}

describe('protocol parsers: properties', () => {
  it('decodeJson never throws on arbitrary bytes and refuses with a code and a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expectRefusalShape(decodeJson(bytes));
      }),
      RUNS,
    );
  });

  it('parseMessage never throws on any JSON value or string, for every message', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NAMES),
        fc.oneof(fc.json({ depthSize: 'medium' }), fc.string({ maxLength: 512 })),
        (name, text) => {
          const r = parseMessage(name, text);
          expectRefusalShape(r);
          if (r.ok) expect(MESSAGES[name].schema.safeParse(r.value).success).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('refuses JSON with invalid UTF-8 inside, nested deeper than the limit, or oversized', () => {
    fc.assert(
      fc.property(fc.json(), fc.integer({ min: 0, max: 64 }), (json, at) => {
        const bytes = Buffer.from(json);
        const i = Math.min(at, bytes.length);
        const broken = Buffer.concat([bytes.subarray(0, i), Buffer.from([0xc3, 0x28]), bytes.subarray(i)]);
        const r = decodeJson(broken);
        expect(r.ok ? null : r.error.code).toBe('not_utf8');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.integer({ min: LIMITS.maxJsonDepth + 1, max: 200 }), fc.boolean(), (depth, arrays) => {
        const text = arrays
          ? `${'['.repeat(depth)}${']'.repeat(depth)}`
          : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
        const r = decodeJson(text);
        expect(r.ok ? null : r.error.code).toBe('too_deep');
      }),
      { numRuns: 50 },
    );
    const big = decodeJson(new Uint8Array(LIMITS.maxPayloadBytes + 1));
    expect(big.ok ? null : big.error.code).toBe('too_large');
  });

  const valid: Array<[MessageName, fc.Arbitrary<unknown>]> = [
    ['records', recordsBatch],
    ['ack', ack],
    ['telemetry', telemetry],
    ['state', agentState],
    ['birth', birth],
    ['cmd', command],
  ];
  for (const [name, arb] of valid) {
    it(`accepts every valid generated ${name} message and round-trips it through JSON`, () => {
      fc.assert(
        fc.property(arb, (msg) => {
          const text = JSON.stringify(msg);
          const r = parseMessage(name, text);
          if (!r.ok) throw new Error(`refused a valid ${name}: ${r.error.message}\n${text.slice(0, 400)}`);
          expect(r.value).toEqual(msg);
          // Parsing what the parser returned gives the same value again (a fixed point).
          const again = parseMessage(name, Buffer.from(JSON.stringify(r.value)));
          expect(again.ok && again.value).toEqual(r.value);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('refuses each kind of damage to a valid records batch with the code and path that name it', () => {
    fc.assert(
      fc.property(recordsBatch, fc.integer({ min: 2, max: 1000 }), (batch, v) => {
        const wrongVersion = parseMessage('records', JSON.stringify({ ...batch, v }));
        expect(wrongVersion.ok ? null : [wrongVersion.error.code, wrongVersion.error.path]).toEqual([
          'bad_version',
          'v',
        ]);
        const noRecords = parseMessage('records', JSON.stringify({ ...batch, records: [] }));
        expect(noRecords.ok ? null : [noRecords.error.code, noRecords.error.path]).toEqual([
          'invalid',
          'records',
        ]);
        const badSeq = structuredClone(batch);
        badSeq.records[0]!.seq = 0;
        const r = parseMessage('records', JSON.stringify(badSeq));
        expect(r.ok ? null : [r.error.code, r.error.path]).toEqual(['invalid', 'records.0.seq']);
        if (batch.records.length >= 2) {
          const reversed = { ...batch, records: [...batch.records].reverse() };
          const rr = parseMessage('records', JSON.stringify(reversed));
          expect(rr.ok ? null : [rr.error.code, rr.error.path]).toEqual(['invalid', 'records']);
        }
        const hostile = JSON.stringify(batch).replace('"records":', '"__proto__":{"x":1},"records":');
        const h = parseMessage('records', hostile);
        expect(h.ok ? null : h.error.code).toBe('forbidden_key');
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an ack range that ends below its start', () => {
    fc.assert(
      fc.property(ack, fc.integer({ min: 1, max: 1000 }), (msg, by) => {
        const bad = structuredClone(msg);
        const [a] = bad.ranges[0]!;
        bad.ranges[0] = [a + by, a];
        const r = parseMessage('ack', JSON.stringify(bad));
        expect(r.ok ? null : [r.error.code, r.error.path]).toEqual(['invalid', 'ranges.0']);
      }),
      RUNS,
    );
  });
});

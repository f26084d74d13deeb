import { describe, expect, it } from 'vitest';
import { decodeJson, jsonDepth, LIMITS, MESSAGES, type MessageName, parseMessage } from '../src/index.js';
import { examples } from './fixtures.js';

const names = Object.keys(MESSAGES) as MessageName[];
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

function expectError(name: MessageName, payload: Uint8Array | string, code: string, pathPrefix?: string) {
  let result: ReturnType<typeof parseMessage>;
  expect(() => {
    result = parseMessage(name, payload);
  }).not.toThrow();
  const r = result!;
  expect(r.ok, `expected ${name} to be refused`).toBe(false);
  if (!r.ok) {
    expect(r.error.code).toBe(code);
    if (pathPrefix !== undefined)
      expect(r.error.path.startsWith(pathPrefix), `path ${r.error.path}`).toBe(true);
    expect(r.error.message.length).toBeGreaterThan(0);
  }
}

describe('every message: valid examples', () => {
  it('has an example for every message', () => {
    expect(Object.keys(examples).sort()).toEqual([...names].sort());
  });
  for (const name of names) {
    it(`${name} parses from bytes and from text`, () => {
      const r = parseMessage(name, enc(examples[name]));
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.value).toMatchObject(examples[name] as object);
      expect(parseMessage(name, JSON.stringify(examples[name])).ok).toBe(true);
    });
  }
});

describe('every message: hostile variants are refused with the field named', () => {
  for (const name of names) {
    const example = examples[name] as Record<string, unknown>;
    for (const [field, value] of Object.entries(example)) {
      if (field === 'v') continue;
      it(`${name}.${field} with the wrong type`, () => {
        const bad = clone(example);
        bad[field] = typeof value === 'string' ? 12345 : typeof value === 'boolean' ? 'yes' : 'wrong';
        if (value === null) bad[field] = { nested: true };
        expectError(name, enc(bad), 'invalid', field);
      });
      if (typeof value === 'number') {
        for (const s of ['NaN', 'Infinity', '-Infinity', '1e309']) {
          it(`${name}.${field} given as the string ${s}`, () => {
            const bad = clone(example);
            bad[field] = s;
            expectError(name, enc(bad), 'invalid', field);
          });
        }
        it(`${name}.${field} given as a huge number`, () => {
          const text = JSON.stringify(example).replace(
            `"${field}":${JSON.stringify(value)}`,
            `"${field}":1e309`,
          );
          expectError(name, text, 'invalid', field);
        });
      }
      if (typeof value === 'string') {
        it(`${name}.${field} over-long`, () => {
          const bad = clone(example);
          bad[field] = 'x'.repeat(LIMITS.maxStringLength * 4);
          expectError(name, enc(bad), 'invalid', field);
        });
      }
      it(`${name} without ${field}`, () => {
        const bad = clone(example);
        delete bad[field];
        if (field === 'historical' || field === 'error' || field === 'data') {
          expect(parseMessage(name, enc(bad)).ok).toBe(true);
        } else {
          expectError(name, enc(bad), 'invalid', field);
        }
      });
    }
    it(`${name} with unknown v`, () => {
      for (const v of [2, 0, '1', null]) expectError(name, enc({ ...example, v }), 'bad_version', 'v');
      const noV = clone(example);
      delete noV.v;
      expectError(name, enc(noV), 'invalid', 'v');
    });
    it(`${name} with __proto__ and constructor keys`, () => {
      const text = JSON.stringify(example);
      expectError(name, text.replace('{', '{"__proto__":{"polluted":1},'), 'forbidden_key', '__proto__');
      expectError(
        name,
        text.replace('{', '{"x":{"constructor":{"prototype":{}}},'),
        'forbidden_key',
        'x.constructor',
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
    it(`${name} deeply nested`, () => {
      const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      expectError(name, deep, 'too_deep');
      const nested = JSON.stringify(example).replace('{', `{"deep":${'['.repeat(50)}${']'.repeat(50)},`);
      expectError(name, nested, 'too_deep');
    });
    it(`${name} with non-UTF-8 bytes`, () => {
      const bytes = enc(example);
      const bad = new Uint8Array(bytes.length + 2);
      bad.set(bytes);
      bad[bytes.length - 1] = 0xff; // invalid lead byte replacing the closing brace
      bad[bytes.length] = 0xfe;
      bad[bytes.length + 1] = 0x7d;
      expectError(name, bad, 'not_utf8', '');
    });
    it(`${name} as malformed JSON, a bare value, or oversized`, () => {
      expectError(name, '{"v":1,', 'bad_json');
      expectError(name, '', 'bad_json');
      expectError(name, '42', 'invalid');
      expectError(name, '[]', 'invalid');
      expectError(name, new Uint8Array(LIMITS.maxPayloadBytes + 1), 'too_large');
    });
  }
});

describe('records and acks: seq rules', () => {
  const batch = examples.records;
  it.each([0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, 1e300])('refuses seq %s', (seq) => {
    const bad = clone(batch) as { records: { seq: number }[] };
    bad.records[0]!.seq = seq;
    expectError('records', enc(bad), 'invalid', 'records.0.seq');
  });
  it('refuses records out of seq order or repeated', () => {
    const bad = clone(batch) as { records: { seq: number }[] };
    bad.records[1]!.seq = 1;
    expectError('records', enc(bad), 'invalid', 'records');
  });
  it('refuses an empty batch and one over the batch limit', () => {
    expectError('records', enc({ ...batch, records: [] }), 'invalid', 'records');
    const many = Array.from({ length: LIMITS.maxRecordsPerBatch + 1 }, (_, i) => ({
      seq: i + 1,
      kind: 'event',
      source: null,
      ts: 1,
      type: 'disk.low',
      detail: {},
    }));
    expectError('records', enc({ ...batch, records: many }), 'invalid', 'records');
  });
  it('refuses an unknown record kind and event type, and a window that ends before it starts', () => {
    const a = clone(batch) as { records: Record<string, unknown>[] };
    a.records[0]!.kind = 'video';
    expectError('records', enc(a), 'invalid', 'records.0.kind');
    const b = clone(batch) as { records: Record<string, unknown>[] };
    b.records[1]!.type = 'video.purple.start';
    expectError('records', enc(b), 'invalid', 'records.1.type');
    const c = clone(batch) as { records: Record<string, unknown>[] };
    c.records[0]!.end = 1;
    expectError('records', enc(c), 'invalid', 'records.0.end');
  });
  it('refuses ratios out of range and an event detail that is not flat', () => {
    const a = clone(batch) as { records: { video: { blackRatio: number } }[] };
    a.records[0]!.video.blackRatio = 1.5;
    expectError('records', enc(a), 'invalid', 'records.0.video.blackRatio');
    const b = clone(batch) as { records: { detail: unknown }[] };
    b.records[1]!.detail = { nested: { x: 1 } };
    expectError('records', enc(b), 'invalid', 'records.1.detail');
  });
  it('refuses inverted and negative ack ranges', () => {
    expectError('ack', enc({ v: 1, ranges: [[5, 2]] }), 'invalid', 'ranges.0');
    expectError('ack', enc({ v: 1, ranges: [[-1, 2]] }), 'invalid', 'ranges.0.0');
    expectError('ack', enc({ v: 1, ranges: [] }), 'invalid', 'ranges');
  });
  it('refuses agent ids and room ids that could escape a topic level', () => {
    const b = clone(examples.birth) as { room: { id: string } };
    for (const id of ['a/b', 'a+', '#', '', 'x'.repeat(65)]) {
      b.room.id = id;
      expectError('birth', enc(b), 'invalid', 'room.id');
    }
    const s = clone(examples['room-summary']) as { agent: string };
    s.agent = 'Upper';
    expectError('room-summary', enc(s), 'invalid', 'agent');
  });
});

describe('decodeJson', () => {
  it('measures depth ignoring brackets inside strings', () => {
    expect(jsonDepth('{"a":"[[[[{{{{","b":[1,[2]]}')).toBe(3);
    expect(jsonDepth('"\\"[[["')).toBe(0);
  });
  it('limits nesting depth, not the number of brackets', () => {
    const max = LIMITS.maxJsonDepth;
    const nest = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
    expect(decodeJson(nest(max)).ok).toBe(true);
    const over = decodeJson(nest(max + 1));
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.error.code).toBe('too_deep');
    // Many brackets side by side (more than the limit in all), and brackets inside strings: fine.
    expect(decodeJson(`[${Array.from({ length: 3 * max }, () => '{"a":[1]}').join(',')}]`).ok).toBe(true);
    expect(decodeJson(JSON.stringify({ s: '['.repeat(10 * max) })).ok).toBe(true);
    // Deep nesting hidden after many shallow brackets is still found.
    expect(decodeJson(`[${'{},'.repeat(2 * max)}${nest(max)}]`).ok).toBe(false);
  });
  it('lets a string value named constructor through', () => {
    const r = decodeJson('{"label":"constructor"}');
    expect(r.ok).toBe(true);
  });
});

// Property-based tests of the agent config parser (src/config.ts) with fast-check: it never throws
// on any value, refuses with one "path: reason" line per bad field, accepts every valid generated
// config, and its output parses again to itself (defaults filled, paths already absolute).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isValidAgentId, LIMITS } from '@classroom/protocol';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config.js';
import { removeDir, tempDir } from './helpers/agent.js';

const dir = tempDir('agent-config-prop-');
afterAll(() => removeDir(dir));

const id = (re: RegExp) => fc.stringMatching(re);
const text = fc.string({ maxLength: LIMITS.maxStringLength });
const hostChars = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/);

const validConfig = fc.record(
  {
    agent: id(/^[a-z0-9][a-z0-9._-]{0,63}$/).filter(isValidAgentId),
    room: fc.record(
      {
        id: id(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
        name: text,
        building: text,
        floor: text,
        campus: text,
      },
      { requiredKeys: ['id'] },
    ),
    broker: fc.record(
      {
        url: fc
          .tuple(
            fc.constantFrom('mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'tls'),
            hostChars,
            fc.integer({ min: 1, max: 65535 }),
          )
          .map(([s, h, p]) => `${s}://${h}:${p}`),
        username: fc.string({ minLength: 1, maxLength: LIMITS.maxIdLength }),
        password: fc.string({ maxLength: 1024 }),
        ca: fc.stringMatching(/^\/[a-z0-9/._-]{1,40}$/),
        keepaliveS: fc.integer({ min: 2, max: 300 }),
        reconnectMinMs: fc.integer({ min: 100, max: 600_000 }),
        reconnectMaxMs: fc.integer({ min: 100, max: 3_600_000 }),
      },
      { requiredKeys: ['url'] },
    ),
    dataDir: fc.stringMatching(/^\/[a-z0-9/._-]{1,40}$/),
    sources: fc.uniqueArray(
      fc.record(
        {
          id: id(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
          kind: fc.constantFrom('camera', 'microphone'),
          input: fc.string({ minLength: 1, maxLength: 1024 }),
          label: text,
        },
        { requiredKeys: ['id', 'kind', 'input'] },
      ),
      { maxLength: LIMITS.maxSources, selector: (s) => s.id },
    ),
    windowS: fc.integer({ min: 1, max: 3600 }),
    telemetryIntervalS: fc.integer({ min: 1, max: 3600 }),
    thresholds: fc.record(
      {
        blackPixelRatio: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0),
        silenceDb: fc.double({ min: -120, max: 0, noNaN: true }).map((x) => x + 0),
        sourceStaleS: fc.integer({ min: 2, max: 600 }),
      },
      { requiredKeys: [] },
    ),
    outbox: fc.record({
      maxRecords: fc.integer({ min: 100, max: 100_000_000 }),
      maxBytes: fc.integer({ min: 1024 * 1024, max: 1024 ** 4 }),
    }),
    ntpServer: hostChars,
    logLevel: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace'),
  },
  { requiredKeys: ['agent', 'room', 'broker', 'dataDir', 'sources'] },
);

function expectErrorLines(errors: string[]): void {
  expect(errors.length).toBeGreaterThan(0);
  // A path that can be read (never empty), then the reason.
  for (const e of errors) expect(e).toMatch(/^\S.*?: \S/s);
}

describe('agent config parser: properties', () => {
  it('never throws on any value, and refuses with one "path: reason" line per problem', () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true }),
        (value) => {
          const r = parseConfig(value, '/etc/classroom');
          if (!r.ok) expectErrorLines(r.errors);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on damaged valid configs and names the damaged field', () => {
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom('agent', 'room', 'broker', 'dataDir', 'sources', 'windowS'),
        // Wrong in type for each of these fields (an array of numbers is not a list of sources either).
        fc.constantFrom(null, true, [1], -1.5, { x: 1 }),
        (cfg, key, junk) => {
          const r = parseConfig({ ...cfg, [key]: junk }, '/');
          // A field replaced by junk is refused, and the refusal starts at that field's path.
          if (r.ok) throw new Error(`accepted ${key}=${JSON.stringify(junk)}`);
          expectErrorLines(r.errors);
          expect(r.errors.some((e) => e.startsWith(key))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses an unknown key at any level by name', () => {
    fc.assert(
      fc.property(
        validConfig,
        // No field of the config or of its room starts with "zz".
        fc.stringMatching(/^zz[a-zA-Z0-9_]{1,12}$/),
        (cfg, key) => {
          const top = parseConfig({ ...cfg, [key]: 1 }, '/');
          expect(top.ok ? [] : top.errors).toContain(`${key}: unknown field`);
          const nested = parseConfig({ ...cfg, room: { ...cfg.room, [key]: 1 } }, '/');
          expect(nested.ok ? [] : nested.errors).toContain(`room.${key}: unknown field`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('accepts every valid generated config, and its result parses again to itself', () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        const r = parseConfig(structuredClone(cfg), '/etc/classroom');
        if (!r.ok) throw new Error(`refused a valid config: ${r.errors.join('; ')}`);
        expect(r.config.agent).toBe(cfg.agent);
        expect(r.config.sources.map((s) => s.id)).toEqual(cfg.sources.map((s) => s.id));
        expect(r.config.windowS).toBe(cfg.windowS ?? 10);
        const again = parseConfig(JSON.parse(JSON.stringify(r.config)), '/somewhere/else');
        if (!again.ok) throw new Error(`refused its own output: ${again.errors.join('; ')}`);
        expect(again.config).toEqual(r.config);
      }),
      { numRuns: 300 },
    );
  });

  it('loadConfig never throws on a file of arbitrary bytes', () => {
    const file = join(dir, 'agent.json');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.json().map((j) => Buffer.from(j)),
        ),
        (bytes) => {
          writeFileSync(file, bytes);
          const r = loadConfig(file);
          if (!r.ok) expect(r.errors.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// /api/openapi.json must be a valid OpenAPI 3.1 document by an independent validator
// (@readme/openapi-parser: the OpenAPI schema plus the rules it cannot express), with every
// operation naming the role it needs.
import { compileErrors, validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './people-hub.js';

describe('/api/openapi.json', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('passes @readme/openapi-parser with no errors or warnings', async () => {
    const doc = (await (await fetch(`${t.base}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { description?: string; security?: unknown[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place; give it a copy.
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? '' : compileErrors(result)).toBe('');
    expect(result.warnings).toEqual([]);
    const ops = Object.entries(doc.paths).flatMap(([p, o]) =>
      Object.entries(o).map(([m, op]) => ({ p, m, op })),
    );
    for (const { p, m, op } of ops) {
      if (['/api/health', '/api/session'].includes(p)) continue;
      expect(op.description, `${m} ${p}`).toMatch(/Role: (viewer|operator|admin) or above\./);
      expect(op.security, `${m} ${p}`).toEqual([{ bearer: [] }, { session: [] }]);
    }
  });

  it('a broken document fails the same check (the validator is not a no-op)', async () => {
    const doc = (await (await fetch(`${t.base}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, { responses?: unknown }>> };
    const first = Object.values(broken.paths)[0];
    if (first) for (const op of Object.values(first)) op.responses = 'none';
    expect((await validate(broken as never)).valid).toBe(false);
  });
});

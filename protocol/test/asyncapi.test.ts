// The published AsyncAPI document must pass the official parser (@asyncapi/parser, which runs the
// AsyncAPI schema and its MQTT binding schemas) with no diagnostics, and say what MESSAGES says.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { MESSAGES, type MessageName } from '../src/index.js';
import { examples } from './fixtures.js';

const text = readFileSync(new URL('../asyncapi.json', import.meta.url), 'utf8');

describe('protocol/asyncapi.json', () => {
  it('parses with @asyncapi/parser without errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(text);
    const found = diagnostics.map((d) => `${d.severity} ${d.code} ${d.path.join('.')}: ${d.message}`);
    expect(found).toEqual([]);
    expect(document).toBeDefined();
    // QoS and retain sit in each operation's MQTT binding, as MESSAGES gives them.
    const ops = document?.operations().all() ?? [];
    expect(ops).toHaveLength(Object.keys(MESSAGES).length);
    for (const op of ops) {
      const name = op.id().replace(/^(send|receive)-/, '') as MessageName;
      const m = MESSAGES[name];
      expect(m, op.id()).toBeDefined();
      const mqtt = op.bindings().get('mqtt')?.value() as { qos?: number; retain?: boolean } | undefined;
      expect({ id: op.id(), qos: mqtt?.qos, retain: mqtt?.retain }).toEqual({
        id: op.id(),
        qos: m.qos,
        retain: m.retain,
      });
      expect(op.action()).toBe(m.from === 'hub' ? 'send' : 'receive');
      for (const msg of op.messages().all()) expect(msg.bindings().has('mqtt')).toBe(false);
    }
  });

  it('describes payloads that accept every example message and refuse a wrong version', () => {
    const doc = JSON.parse(text) as { components: { messages: Record<string, { payload: object }> } };
    const ajv = new Ajv2020({ strict: false });
    for (const [name, example] of Object.entries(examples)) {
      const payload = doc.components.messages[name]?.payload;
      expect(payload, name).toBeDefined();
      const validate = ajv.compile({ ...payload, $id: undefined });
      expect(validate(example), `${name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      expect(validate({ ...example, v: 2 })).toBe(false);
    }
  });
});

#!/usr/bin/env node
// Regenerates protocol/schema/*.json and protocol/asyncapi.json from the zod schemas in src/.
// `--check` compares instead of writing and exits 1 when a committed copy is stale (used by CI).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MESSAGES } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function jsonSchema(schema, title) {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' });
  return { $id: `https://classroom.invalid/protocol/v1/${title}.json`, title, ...s };
}

const files = new Map();
for (const [name, m] of Object.entries(MESSAGES)) {
  files.set(`schema/${name}.json`, jsonSchema(m.schema, name));
}

const channels = {};
const operations = {};
const messages = {};
for (const [name, m] of Object.entries(MESSAGES)) {
  const params = {};
  if (m.topic.includes('{agent}')) params.agent = { description: 'Agent id, ^[a-z0-9][a-z0-9._-]{0,63}$' };
  if (m.topic.includes('{room}')) params.room = { description: 'Room id, ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' };
  messages[name] = {
    name,
    contentType: 'application/json',
    payload: jsonSchema(m.schema, name),
  };
  channels[name] = {
    address: m.topic,
    ...(Object.keys(params).length ? { parameters: params } : {}),
    messages: { [name]: { $ref: `#/components/messages/${name}` } },
  };
  // Operations are described from the hub's point of view. QoS and retain belong to the operation's
  // MQTT binding; the message binding (MQTT binding 0.2.0) has no such fields and parsers refuse them.
  operations[`${m.from === 'hub' ? 'send' : 'receive'}-${name}`] = {
    action: m.from === 'hub' ? 'send' : 'receive',
    channel: { $ref: `#/channels/${name}` },
    bindings: { mqtt: { qos: m.qos, retain: m.retain, bindingVersion: '0.2.0' } },
  };
}
files.set('asyncapi.json', {
  asyncapi: '3.1.0',
  info: {
    title: 'Classroom agent/hub MQTT protocol',
    version: `1 (package ${pkg.version})`,
    description:
      'MQTT 3.1.1 protocol between classroom agents and the hub. Every payload is UTF-8 JSON with "v":1. Generated from protocol/src by scripts/gen.js; do not edit.',
  },
  defaultContentType: 'application/json',
  servers: { hub: { host: 'localhost:1883', protocol: 'mqtt', protocolVersion: '3.1.1' } },
  channels,
  operations,
  components: { messages },
});

let stale = 0;
for (const [rel, content] of files) {
  const path = join(root, rel);
  const text = `${JSON.stringify(content, null, 2)}\n`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== text) {
      console.error(`stale: protocol/${rel} (run \`npm run gen\`)`);
      stale++;
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
if (check && stale) process.exit(1);
console.log(
  check ? `protocol: ${files.size} generated files up to date` : `protocol: wrote ${files.size} files`,
);

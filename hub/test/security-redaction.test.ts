// What the hub never writes down (docs/hub.md "Secrets"): query strings and URL passwords in its log
// lines, and camera passwords that an agent older than its own redaction still sends.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { topics } from '@classroom/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubModule } from '../src/context.js';
import { redactingLogOptions, redactLogLine, redactPayload } from '../src/log-redact.js';
import { birth, inProcessHub, waitFor } from './core-helpers.js';
import { connectBox } from './security-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('log line redaction', () => {
  it('replaces query strings after a path and passwords inside URLs', () => {
    expect(redactLogLine('{"url":"/api/records?token=abc&x=1","msg":"x"}')).toBe(
      '{"url":"/api/records?…","msg":"x"}',
    );
    expect(redactLogLine('{"msg":"rtsp://cam:pa55@10.0.0.5:554/s: Connection refused"}')).toBe(
      '{"msg":"rtsp://cam:***@10.0.0.5:554/s: Connection refused"}',
    );
    expect(redactLogLine('{"db":"postgres://hub:pw@db:5432/hub"}')).toBe(
      '{"db":"postgres://hub:***@db:5432/hub"}',
    );
    // Text that is not a URL stays as it is.
    expect(redactLogLine('{"msg":"why? because","mail":"ops@campus.example"}')).toBe(
      '{"msg":"why? because","mail":"ops@campus.example"}',
    );
  });

  it('keeps the query of a failing request out of the hub log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const boom: HubModule = {
      name: 'boom',
      routes: (http) => {
        http.get('/boom', async () => {
          throw new Error('exploded');
        });
      },
      start: async () => undefined,
      stop: async () => undefined,
    };
    const t = await inProcessHub({
      log: pino({ level: 'info', ...redactingLogOptions }, sink),
      modules: () => [boom],
    });
    cleanups.push(() => t.stop());
    const res = await fetch(`http://127.0.0.1:${t.hub.httpPort}/boom?token=leaky-query-token&k=v`);
    expect(res.status).toBe(500);
    const line = await waitFor('the failure logged', () => lines.find((l) => l.includes('request failed')));
    expect(line).toContain('/boom?…');
    expect(lines.join('')).not.toContain('leaky-query-token');
  });
});

describe('camera passwords from an agent that does not redact', () => {
  it('are redacted before ingest stores records and dead letters', async () => {
    const t = await inProcessHub({});
    cleanups.push(() => t.stop());
    const { password } = (
      await t.api<{ password: string }>('POST', '/api/agents', { agent: 'old-box', room: 'O1' })
    ).body;
    const box = await connectBox(t.hub.mqttPort, 'old-box', password);
    cleanups.push(() => void box.end(true));
    await box.publishAsync(topics.birth('old-box'), JSON.stringify(birth('old-box', 'O1')), { qos: 1 });
    const reason = 'rtsp://cam:OldBoxPass@127.0.0.1:9/x: Connection refused';
    await box.publishAsync(
      topics.records('old-box'),
      JSON.stringify({
        v: 1,
        session: 1,
        records: [
          { seq: 1, kind: 'event', source: 'cam', ts: Date.now(), type: 'source.down', detail: { reason } },
        ],
      }),
      { qos: 1 },
    );
    await box.publishAsync(topics.records('old-box'), `{"broken": "${reason}"`, { qos: 1 });
    const stored = await waitFor('the stored event', async () => {
      const r = await t.api<{ records: Array<{ record: { detail?: { reason?: string } } }> }>(
        'GET',
        '/api/records?agent=old-box&kind=event',
      );
      return r.body.records[0];
    });
    expect(stored.record.detail?.reason).toBe('rtsp://cam:***@127.0.0.1:9/x: Connection refused');
    const dead = await waitFor('the dead letter', () =>
      t.hub.ctx.db.get<{ payload: string }>("SELECT payload FROM dead_letters WHERE agent = 'old-box'"),
    );
    expect(dead.payload).toContain('cam:***@127.0.0.1');
    for (const f of readdirSync(t.dir))
      expect(readFileSync(join(t.dir, f)).includes(Buffer.from('OldBoxPass')), f).toBe(false);
  });

  it('leaves payloads without an @ and non-UTF-8 payloads untouched', () => {
    const plain = Buffer.from('{"v":1}');
    expect(redactPayload(plain)).toBe(plain);
    const binary = Buffer.from([0x40, 0xff, 0xfe, 0x3a]);
    expect(redactPayload(binary)).toBe(binary);
  });
});

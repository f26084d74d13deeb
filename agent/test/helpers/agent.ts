import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AgentApp, type AppOptions } from '../../src/app.js';
import { type AgentConfig, parseConfig } from '../../src/config.js';
import { fakeFactory } from './fake-monitor.js';

export function tempDir(prefix = 'agent-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function testConfig(dataDir: string, url: string, extra: Record<string, unknown> = {}): AgentConfig {
  const r = parseConfig({
    agent: 'box-1',
    room: { id: 'A101', name: 'A101', building: 'A', floor: '1', campus: 'main' },
    broker: { url, keepaliveS: 2 },
    dataDir,
    sources: [
      { id: 'cam', kind: 'camera', input: 'udp://127.0.0.1:1' },
      { id: 'mic', kind: 'microphone', input: 'alsa:hw:1' },
    ],
    ...extra,
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

/** An in-process agent on scripted sources, with test-speed backoff and ack timeout. */
export function testAgent(config: AgentConfig, opts: Partial<AppOptions> = {}) {
  const fake = fakeFactory();
  const app = new AgentApp({
    config,
    log: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }),
    createMonitor: fake.create,
    ffmpeg: null,
    backoff: { baseMs: 100, maxMs: 400 },
    sender: { ackTimeoutMs: 2000 },
    durability: 'normal',
    ...opts,
  });
  return { app, monitors: fake.monitors };
}

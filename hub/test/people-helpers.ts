// Test helpers for the people-facing modules: a real SQLite store in a temp dir, a fake registry
// and an MQTT publisher that records what was published (unit tests of one module only).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AuditLog } from '../src/audit/log.js';
import {
  type AgentView,
  createBus,
  type HubContext,
  type HubMqtt,
  type HubRegistry,
  systemClock,
} from '../src/context.js';
import { SqliteDb } from '../src/store/sqlite.js';

export interface Published {
  topic: string;
  payload: unknown;
  opts: { qos: 0 | 1; retain?: boolean };
}

export class FakeRegistry implements HubRegistry {
  readonly map = new Map<string, AgentView>();
  agents(): AgentView[] {
    return [...this.map.values()];
  }
  agent(id: string): AgentView | undefined {
    return this.map.get(id);
  }
  byRoom(roomId: string): AgentView[] {
    return this.agents().filter((a) => a.room?.id === roomId);
  }
  put(view: AgentView): void {
    this.map.set(view.agent, view);
  }
}

export function agentView(agent: string, room: string, patch: Partial<AgentView> = {}): AgentView {
  return {
    agent,
    room: { id: room, name: `Room ${room}`, building: 'A', floor: '1', campus: 'main' },
    availability: 'online',
    since: Date.now(),
    session: 1,
    lastSeen: Date.now(),
    birth: null,
    telemetry: null,
    sources: [
      { id: 'cam', kind: 'camera', label: 'Camera', probe: {}, status: 'ok', since: null },
      { id: 'mic', kind: 'microphone', label: 'Mic', probe: {}, status: 'ok', since: null },
    ],
    ...patch,
  };
}

export interface TestCtx {
  ctx: HubContext;
  db: SqliteDb;
  registry: FakeRegistry;
  published: Published[];
  dir: string;
  close(): Promise<void>;
}

export async function makeCtx(): Promise<TestCtx> {
  const dir = mkdtempSync(join(tmpdir(), 'people-'));
  const db = new SqliteDb(join(dir, 'hub.sqlite'));
  await db.open();
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const registry = new FakeRegistry();
  const published: Published[] = [];
  const mqtt: HubMqtt = {
    publish: async (topic, payload, opts) => {
      published.push({ topic, payload, opts });
    },
  };
  const ctx: HubContext = {
    log,
    config: {
      dataDir: dir,
      host: '127.0.0.1',
      mqttPort: 0,
      httpPort: 0,
      adminToken: 'test-token',
      broker: null,
      database: null,
    },
    clock: systemClock,
    bus: createBus(new EventEmitter(), log),
    db,
    mqtt,
    registry,
    metrics: new Registry(),
    hooks: { roomDetail: [] },
    audit: new AuditLog(db, systemClock),
  };
  return {
    ctx,
    db,
    registry,
    published,
    dir,
    close: async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// An alarm acknowledged by a logged-in operator: the alarm names the operator (not what the body
// claims) and the audit log has who, when, what and from where. Real in-process hub, real MQTT agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponse } from './openapi-responses.js';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

describe('audit of alarm acks and maintenance by staff', () => {
  let t: TestHub;
  let agent: FakeAgent;
  let cookie = '';

  async function asOperator<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(t.base + path, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    await checkResponse(t.base, method, path, res.status, res.headers.get('content-type'), text);
    return { status: res.status, body: JSON.parse(text) as T };
  }

  beforeAll(async () => {
    t = await startTestHub({ CLASSROOM_HUB_ALARM_RAISE_S: '0.2', CLASSROOM_HUB_ALARM_CLEAR_S: '0.2' });
    const u = await t.api<{ password: string }>('POST', '/api/users', { name: 'duty.li', role: 'operator' });
    const login = await fetch(`${t.base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'duty.li', password: u.body.password }),
    });
    cookie = /classroom_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
    expect(cookie).not.toBe('');
    agent = new FakeAgent(t, 'box-a101', { id: 'A-101', name: 'A 101', building: 'A', floor: '1' });
    await agent.connect();
  });

  afterAll(async () => {
    await agent?.close();
    await t?.stop();
  });

  it('records the ack under the operator’s name with their address', async () => {
    const t0 = Date.now();
    await agent.event('video.black.start', 'cam');
    const alarm = await waitFor('black alarm', async () => {
      const r = await t.api<{ alarms: Array<{ id: string }> }>('GET', '/api/alarms?state=active');
      return r.body.alarms[0];
    });
    const ack = await asOperator<{ alarm: { ackedBy: string; state: string } }>(
      'POST',
      `/api/alarms/${alarm.id}/ack`,
      {
        who: 'someone-else',
        note: 'technician on the way',
      },
    );
    expect(ack.status).toBe(200);
    expect(ack.body.alarm).toMatchObject({ state: 'acked', ackedBy: 'duty.li' });
    const m = await asOperator('PUT', '/api/rooms/A-101/maintenance', { on: true, note: 'projector swap' });
    expect(m.status).toBe(200);
    const cfg = await asOperator('PUT', '/api/agents/box-a101/config', { windowS: 5 });
    expect(cfg.status).toBe(403);
    const log = await t.api<{
      entries: Array<{
        actor: string;
        role: string;
        action: string;
        target: string;
        ip: string;
        ts: number;
        detail: unknown;
      }>;
    }>('GET', `/api/audit?from=${t0}&user=duty.li`);
    const byAction = Object.fromEntries(log.body.entries.map((e) => [e.action, e]));
    expect(byAction['alarm.ack']).toMatchObject({
      actor: 'duty.li',
      role: 'operator',
      target: alarm.id,
      ip: '127.0.0.1',
      detail: { note: 'technician on the way' },
    });
    expect(byAction['maintenance.set']).toMatchObject({
      target: 'A-101',
      detail: { on: true, note: 'projector swap' },
    });
    expect(byAction['access.denied']).toMatchObject({ target: 'PUT /api/agents/:id/config' });
    expect(byAction['config.set']).toBeUndefined();
  });
});

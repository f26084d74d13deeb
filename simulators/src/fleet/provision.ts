import type { AgentIdentity } from './agent.js';

export interface ProvisionTarget {
  api: string;
  adminToken: string;
}

/** Creates the agent's account through `POST /api/agents` (DESIGN: Hub) and returns its password. */
export async function provisionAgent(
  target: ProvisionTarget,
  id: Pick<AgentIdentity, 'agent' | 'room'>,
): Promise<{ username: string; password: string }> {
  const url = new URL('/api/agents', target.api);
  const post = (rotate: boolean) =>
    fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent: id.agent,
        room: id.room.id,
        name: id.room.name,
        ...(rotate ? { rotate } : {}),
      }),
    });
  let res = await post(false);
  // 409: the agent exists from an earlier run whose password we no longer have; issue a new one.
  if (res.status === 409) {
    await res.text();
    res = await post(true);
  }
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`POST ${url} for agent ${id.agent} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  const body = JSON.parse(text) as { username?: unknown; password?: unknown };
  if (typeof body.password !== 'string' || typeof body.username !== 'string') {
    throw new Error(`POST ${url} for agent ${id.agent} returned no username/password: ${text.slice(0, 300)}`);
  }
  return { username: body.username, password: body.password };
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

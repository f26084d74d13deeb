// The MQTT access rules of DESIGN.md ("Access control"), as pure functions so they are unit-tested
// on their own and used unchanged by the aedes hooks.
import { AGENT_TO_HUB_LEAVES, HUB_TO_AGENT_LEAVES, TOPIC_ROOT, topics } from '@classroom/protocol';

export type Role = 'agent' | 'platform';

export interface Principal {
  username: string;
  role: Role;
  /** An agent's provisioned room, authoritative over what its birth says (DESIGN.md). */
  room?: string | null;
}

export type AclDecision = { ok: true } | { ok: false; reason: string };

const OK: AclDecision = { ok: true };

/** An agent publishes only to its own agent→hub topics; a platform account publishes nothing. */
export function canPublish(who: Principal, topic: string): AclDecision {
  if (who.role !== 'agent') return { ok: false, reason: `role ${who.role} may not publish` };
  const prefix = `${TOPIC_ROOT}/${who.username}/`;
  if (!topic.startsWith(prefix)) return { ok: false, reason: 'not the agent’s own topic' };
  const leaf = topic.slice(prefix.length);
  if (!(AGENT_TO_HUB_LEAVES as readonly string[]).includes(leaf)) {
    return { ok: false, reason: `leaf "${leaf.slice(0, 64)}" is not an agent→hub topic` };
  }
  return OK;
}

/**
 * An agent subscribes only to its own hub→agent topics and to hub/state; a platform account only to
 * `classroom/v1/rooms/#` or filters inside it. Filters are compared literally: a wildcard that would
 * reach beyond those topics (e.g. `classroom/v1/+/cmd`) is refused.
 */
export function canSubscribe(who: Principal, filter: string): AclDecision {
  if (who.role === 'platform') {
    // Any filter under rooms/ can only match room topics, whatever wildcards follow.
    if (filter.startsWith(`${TOPIC_ROOT}/rooms/`)) return OK;
    return { ok: false, reason: 'platform accounts may subscribe only under classroom/v1/rooms/' };
  }
  if (filter === topics.hubState()) return OK;
  const prefix = `${TOPIC_ROOT}/${who.username}/`;
  if (filter.startsWith(prefix)) {
    const leaf = filter.slice(prefix.length);
    if ((HUB_TO_AGENT_LEAVES as readonly string[]).includes(leaf)) return OK;
  }
  return { ok: false, reason: 'not one of the agent’s own hub→agent topics' };
}

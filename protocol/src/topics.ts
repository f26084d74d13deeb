import { AGENT_ID_PATTERN, ROOM_ID_PATTERN } from './limits.js';

export const TOPIC_ROOT = 'classroom/v1';

/** Leaves an agent publishes under its own `classroom/v1/{agent}/`. */
export const AGENT_TO_HUB_LEAVES = ['state', 'birth', 'telemetry', 'records', 'cmd/result'] as const;
/** Leaves the hub publishes under an agent's `classroom/v1/{agent}/`. */
export const HUB_TO_AGENT_LEAVES = ['ack', 'cmd', 'config'] as const;
export const AGENT_LEAVES = [...AGENT_TO_HUB_LEAVES, ...HUB_TO_AGENT_LEAVES] as const;

export type AgentToHubLeaf = (typeof AGENT_TO_HUB_LEAVES)[number];
export type HubToAgentLeaf = (typeof HUB_TO_AGENT_LEAVES)[number];
export type AgentLeaf = (typeof AGENT_LEAVES)[number];

export const topics = {
  hubState: (): string => `${TOPIC_ROOT}/hub/state`,
  agent: (agent: string, leaf: AgentLeaf): string => `${TOPIC_ROOT}/${agent}/${leaf}`,
  state: (agent: string): string => `${TOPIC_ROOT}/${agent}/state`,
  birth: (agent: string): string => `${TOPIC_ROOT}/${agent}/birth`,
  telemetry: (agent: string): string => `${TOPIC_ROOT}/${agent}/telemetry`,
  records: (agent: string): string => `${TOPIC_ROOT}/${agent}/records`,
  ack: (agent: string): string => `${TOPIC_ROOT}/${agent}/ack`,
  cmd: (agent: string): string => `${TOPIC_ROOT}/${agent}/cmd`,
  cmdResult: (agent: string): string => `${TOPIC_ROOT}/${agent}/cmd/result`,
  config: (agent: string): string => `${TOPIC_ROOT}/${agent}/config`,
  roomSummary: (room: string): string => `${TOPIC_ROOT}/rooms/${room}/summary`,
  /** Subscription filter for everything every agent publishes. */
  allAgents: (leaf: AgentLeaf): string => `${TOPIC_ROOT}/+/${leaf}`,
  allRoomSummaries: (): string => `${TOPIC_ROOT}/rooms/#`,
} as const;

export type ParsedTopic =
  | { kind: 'hub-state' }
  | { kind: 'room-summary'; room: string }
  | { kind: 'agent'; agent: string; leaf: AgentLeaf };

export type TopicResult = { ok: true; topic: ParsedTopic } | { ok: false; error: string };

const RESERVED_AGENT_IDS = new Set(['hub', 'rooms']);

export function isValidAgentId(id: string): boolean {
  return AGENT_ID_PATTERN.test(id) && !RESERVED_AGENT_IDS.has(id);
}

/** Turns a concrete topic name into a typed result. Never throws. */
export function parseTopic(topic: string): TopicResult {
  if (typeof topic !== 'string') return { ok: false, error: 'topic is not a string' };
  if (topic.length > 256) return { ok: false, error: 'topic longer than 256 characters' };
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return { ok: false, error: `topic does not start with "${prefix}"` };
  const rest = topic.slice(prefix.length).split('/');
  const [first, ...tail] = rest;
  if (first === undefined || first === '') return { ok: false, error: 'topic has no agent level' };
  if (first === 'hub') {
    if (tail.length === 1 && tail[0] === 'state') return { ok: true, topic: { kind: 'hub-state' } };
    return { ok: false, error: `unknown hub topic "${topic}"` };
  }
  if (first === 'rooms') {
    const [room, leaf, ...more] = tail;
    if (room === undefined || !ROOM_ID_PATTERN.test(room))
      return { ok: false, error: 'invalid room id in topic' };
    if (leaf !== 'summary' || more.length > 0) return { ok: false, error: `unknown room topic "${topic}"` };
    return { ok: true, topic: { kind: 'room-summary', room } };
  }
  if (!isValidAgentId(first))
    return { ok: false, error: `invalid agent id "${first.slice(0, 80)}" in topic` };
  const leaf = tail.join('/');
  if (!(AGENT_LEAVES as readonly string[]).includes(leaf)) {
    return { ok: false, error: `unknown leaf "${leaf.slice(0, 80)}" for agent "${first}"` };
  }
  return { ok: true, topic: { kind: 'agent', agent: first, leaf: leaf as AgentLeaf } };
}

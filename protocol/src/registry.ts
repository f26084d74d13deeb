import type { z } from 'zod';
import {
  Ack,
  AgentState,
  Birth,
  Command,
  CommandResult,
  ConfigMessage,
  HubState,
  RecordsBatch,
  RoomSummary,
  Telemetry,
} from './messages.js';
import { type AgentLeaf, TOPIC_ROOT } from './topics.js';

/** Every message of protocol v1, keyed by a stable name (also the JSON Schema file name). */
export const MESSAGES = {
  'hub-state': { schema: HubState, topic: `${TOPIC_ROOT}/hub/state`, from: 'hub', qos: 1, retain: true },
  state: { schema: AgentState, topic: `${TOPIC_ROOT}/{agent}/state`, from: 'agent', qos: 1, retain: true },
  birth: { schema: Birth, topic: `${TOPIC_ROOT}/{agent}/birth`, from: 'agent', qos: 1, retain: false },
  telemetry: {
    schema: Telemetry,
    topic: `${TOPIC_ROOT}/{agent}/telemetry`,
    from: 'agent',
    qos: 0,
    retain: false,
  },
  records: {
    schema: RecordsBatch,
    topic: `${TOPIC_ROOT}/{agent}/records`,
    from: 'agent',
    qos: 1,
    retain: false,
  },
  ack: { schema: Ack, topic: `${TOPIC_ROOT}/{agent}/ack`, from: 'hub', qos: 0, retain: false },
  cmd: { schema: Command, topic: `${TOPIC_ROOT}/{agent}/cmd`, from: 'hub', qos: 1, retain: false },
  'cmd-result': {
    schema: CommandResult,
    topic: `${TOPIC_ROOT}/{agent}/cmd/result`,
    from: 'agent',
    qos: 1,
    retain: false,
  },
  config: { schema: ConfigMessage, topic: `${TOPIC_ROOT}/{agent}/config`, from: 'hub', qos: 1, retain: true },
  'room-summary': {
    schema: RoomSummary,
    topic: `${TOPIC_ROOT}/rooms/{room}/summary`,
    from: 'hub',
    qos: 1,
    retain: true,
  },
} as const;

export type MessageName = keyof typeof MESSAGES;
export type MessageOf<N extends MessageName> = z.infer<(typeof MESSAGES)[N]['schema']>;

/** Maps a topic leaf under `classroom/v1/{agent}/` to its message name. */
export const LEAF_TO_MESSAGE: Record<AgentLeaf, MessageName> = {
  state: 'state',
  birth: 'birth',
  telemetry: 'telemetry',
  records: 'records',
  'cmd/result': 'cmd-result',
  ack: 'ack',
  cmd: 'cmd',
  config: 'config',
};

/** Typed map from agent topic leaf to payload type (as zigbee2mqtt's api types do). */
export interface AgentPayloads {
  state: MessageOf<'state'>;
  birth: MessageOf<'birth'>;
  telemetry: MessageOf<'telemetry'>;
  records: MessageOf<'records'>;
  'cmd/result': MessageOf<'cmd-result'>;
  ack: MessageOf<'ack'>;
  cmd: MessageOf<'cmd'>;
  config: MessageOf<'config'>;
}

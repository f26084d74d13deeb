import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HubMqtt } from '../context.js';

/** What app.ts needs of a broker: the embedded aedes, or a client of an external broker. */
export interface HubBroker extends HubMqtt {
  start(): Promise<void>;
  /** Starts the MQTT/TCP listener if the hub has one; returns its port (0 when there is none). */
  listen(host: string, port: number): Promise<number>;
  stopAccepting(): Promise<void>;
  close(): Promise<void>;
  connectedClients(): number;
  /** One accepted MQTT connection (the MQTTS listener's sockets), embedded broker only. */
  handleSocket?(socket: Socket): void;
  /** MQTT over WebSocket, embedded broker only. */
  handleStream?(stream: Duplex, req: IncomingMessage): void;
  /** Closes every live connection of an account (agents disable); returns how many. Embedded broker only. */
  disconnectUser?(username: string): number;
}

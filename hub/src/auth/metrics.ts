// Counters of the identity rules and abuse limits (docs/hub.md "Abuse limits"), registered on the hub's
// registry next to the core's. Refused CONNECTs keep using the core's `classroom_hub_auth_refused_total`
// with one reason per rule, so a dashboard of refusals needs one query.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface IdentityMetrics {
  /** Connections the broker closed after CONNECT, by reason (qos2, connect_timeout, …). */
  connectionsClosed: Counter<'reason'>;
  /** Sockets refused at accept: the address already has too many unauthenticated ones. */
  unauthenticatedRefused: Counter<string>;
  unauthenticatedSockets: Gauge<string>;
  throttleKeys: Gauge<string>;
  persistentSessions: Gauge<'state'>;
  sessionsExpired: Counter<'reason'>;
  roomMismatch: Counter<string>;
  /** Read at scrape time; the broker points them at its live state. */
  sources: {
    unauthenticated(): number;
    throttleKeys(): number;
    persistentSessions(): { connected: number; offline: number };
  };
}

export function createIdentityMetrics(registry: Registry): IdentityMetrics {
  const r = [registry];
  const sources: IdentityMetrics['sources'] = {
    unauthenticated: () => 0,
    throttleKeys: () => 0,
    persistentSessions: () => ({ connected: 0, offline: 0 }),
  };
  const existing = (name: string) => registry.getSingleMetric(name);
  // Several hubs in one process (tests) each have their own registry; one registry never gets two.
  if (existing('classroom_hub_mqtt_connections_closed_total')) {
    throw new Error('identity metrics registered twice on one registry');
  }
  return {
    sources,
    connectionsClosed: new Counter({
      name: 'classroom_hub_mqtt_connections_closed_total',
      help: 'MQTT connections closed by an abuse limit, by reason (qos2, connect_timeout)',
      labelNames: ['reason'],
      registers: r,
    }),
    unauthenticatedRefused: new Counter({
      name: 'classroom_hub_mqtt_unauthenticated_refused_total',
      help: 'TCP/WebSocket connections closed at once: their address already had the maximum of sockets without CONNECT',
      registers: r,
    }),
    unauthenticatedSockets: new Gauge({
      name: 'classroom_hub_mqtt_unauthenticated_sockets',
      help: 'Open MQTT sockets that have not sent their CONNECT yet',
      registers: r,
      collect() {
        this.set(sources.unauthenticated());
      },
    }),
    throttleKeys: new Gauge({
      name: 'classroom_hub_auth_throttle_keys',
      help: 'Source addresses and (address, username) pairs with recent failed logins',
      registers: r,
      collect() {
        this.set(sources.throttleKeys());
      },
    }),
    persistentSessions: new Gauge({
      name: 'classroom_hub_mqtt_persistent_sessions',
      help: 'Persistent (clean=false) MQTT sessions the broker holds, by state',
      labelNames: ['state'],
      registers: r,
      collect() {
        const s = sources.persistentSessions();
        this.set({ state: 'connected' }, s.connected);
        this.set({ state: 'offline' }, s.offline);
      },
    }),
    sessionsExpired: new Counter({
      name: 'classroom_hub_mqtt_sessions_expired_total',
      help: 'Persistent sessions deleted by the broker, by reason (expired, queue_full)',
      labelNames: ['reason'],
      registers: r,
    }),
    roomMismatch: new Counter({
      name: 'classroom_hub_agent_room_mismatch_total',
      help: 'Births naming a room other than the agent’s provisioned one (filed under the provisioned room)',
      registers: r,
    }),
  };
}

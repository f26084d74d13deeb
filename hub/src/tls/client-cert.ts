// Box login by client certificate on the MQTTS listener (docs/hub.md "Client certificates"): the
// certificate must chain to the hub's client CA (checked by TLS), its CN is the agent id, and its serial
// must be the one the hub last issued to that agent.
import { TLSSocket } from 'node:tls';

export type CertificateLogin = { ok: true; cn: string; serial: string } | { ok: false; reason: string };

/** What the connection's client certificate says; null when the connection presented none. */
export function certificateLogin(conn: unknown): CertificateLogin | null {
  if (!(conn instanceof TLSSocket)) return null;
  const peer = conn.getPeerCertificate();
  if (!peer?.subject) return null;
  if (!conn.authorized) {
    return {
      ok: false,
      reason: `client certificate not trusted: ${String(conn.authorizationError ?? 'unknown')}`,
    };
  }
  const cn = peer.subject.CN as string | string[] | undefined;
  if (typeof cn !== 'string' || cn.length === 0)
    return { ok: false, reason: 'client certificate has no single CN' };
  return { ok: true, cn, serial: normalizeSerial(peer.serialNumber) };
}

/** Serials compare as Node's TLS prints them: upper-case hex without leading zero bytes. */
export function normalizeSerial(serial: string): string {
  return serial.replace(/^(00)+/, '').toUpperCase();
}

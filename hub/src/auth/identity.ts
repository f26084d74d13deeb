// "A box is only itself" (DESIGN.md): which MQTT client ids an account may use, and how strings that
// come from a client are made safe to log. Pure functions, unit-tested on their own and used unchanged
// by the broker hooks.
import type { Principal } from './acl.js';

/**
 * Longest client id accepted. Agent ids are at most 64 characters (DESIGN.md, MQTT protocol v1) and an
 * agent's client id must equal its id; a platform client id is its username plus a suffix, and the
 * same bound keeps every refusal log line short. Checked before anything about the client is logged.
 */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Longest client-supplied string written to a log line. */
export const LOGGED_STRING_MAX = 80;

export type IdentityDecision =
  | { ok: true }
  | { ok: false; reason: string; code: 'client_id_mismatch' | 'persistent_session' };

/**
 * An agent's client id must equal its agent id: otherwise box A could take over box B's session and
 * knock it offline (the broker drops the older connection of a client id [MQTT-3.1.4-2]). A platform
 * account uses its username or `<username>-<anything>`, so several platform consumers can run at once.
 * A persistent session (clean=false) must use exactly the username, so every account has at most one
 * (docs/hub.md, "Abuse limits"): fresh client ids cannot pile up sessions in the broker's memory.
 */
export function checkClientId(who: Principal, clientId: string, clean: boolean): IdentityDecision {
  if (who.role === 'agent') {
    if (clientId === who.username) return { ok: true };
    return {
      ok: false,
      code: 'client_id_mismatch',
      reason: `an agent's client id must equal its agent id "${who.username}"`,
    };
  }
  if (!clean) {
    if (clientId === who.username) return { ok: true };
    return {
      ok: false,
      code: 'persistent_session',
      reason: `a persistent session (clean=false) of "${who.username}" must use the client id "${who.username}"`,
    };
  }
  if (clientId === who.username || clientId.startsWith(`${who.username}-`)) return { ok: true };
  return {
    ok: false,
    code: 'client_id_mismatch',
    reason: `a platform client id must be "${who.username}" or start with "${who.username}-"`,
  };
}

/** Control characters in a logged value could forge log lines or terminal escapes: shown as \xNN. */
function escapeControls(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
  }
  return out;
}

/**
 * A client-supplied string cut to `max` characters for a log line, with the original length kept so the
 * cut is visible ("abc…(+999997)"). Control characters are escaped so that a value cannot forge lines.
 */
export function clip(value: unknown, max = LOGGED_STRING_MAX): string {
  const s =
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  const head = s.length > max ? s.slice(0, max) : s;
  const safe = escapeControls(head);
  return s.length > max ? `${safe}…(+${s.length - max})` : safe;
}

/**
 * The key under which a source address is throttled and capped: IPv4 (also IPv4-mapped IPv6) as is,
 * IPv6 by its /64, the prefix one host or site usually controls whole.
 */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped?.[1]) return mapped[1];
  if (!remote.includes(':')) return remote;
  const [head = '', tail = ''] = remote.split('::', 2);
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = remote.includes('::')
    ? [...left, ...new Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Longest string any log field may hold, whatever its origin; see `clipLogFields`. */
export const LOG_FIELD_MAX = 2048;

/**
 * pino `formatters.log`: a net under the explicit `clip` calls. Strings in a log entry (top level and
 * one level of plain objects) longer than LOG_FIELD_MAX are cut, so that no code path can write a
 * client's megabyte into the log. Errors and other class instances are left to their serializers.
 */
export function clipLogFields(entry: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(entry)) {
    let next: unknown = v;
    if (typeof v === 'string' && v.length > LOG_FIELD_MAX) next = clip(v, LOG_FIELD_MAX);
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const inner = v as Record<string, unknown>;
      if (Object.values(inner).some((x) => typeof x === 'string' && x.length > LOG_FIELD_MAX)) {
        next = Object.fromEntries(
          Object.entries(inner).map(([ik, iv]) => [
            ik,
            typeof iv === 'string' && iv.length > LOG_FIELD_MAX ? clip(iv, LOG_FIELD_MAX) : iv,
          ]),
        );
      }
    }
    if (next !== v) {
      out ??= { ...entry };
      out[k] = next;
    }
  }
  return out ?? entry;
}

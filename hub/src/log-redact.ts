// What the hub never writes to its log (docs/hub.md "Secrets"): query strings of HTTP requests (they may
// carry `?token=`) and passwords inside URLs (`rtsp://user:pass@…` in a box's source details, a webhook
// target, a --database or --broker URL). Applied to each finished log line, so no call site can forget.

/** `scheme://user:pass@host` → `scheme://user:***@host`. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:"'\\]*):[^\s/?#@"'\\]*@/gi;
/** A query string after a path (`/api/records?token=…`), up to the end of the JSON string or a space. */
const QUERY = /(\/[A-Za-z0-9._~%/-]*)\?[^\s"'\\]+/g;

export function redactUrlPasswords(text: string): string {
  return text.includes('@') ? text.replace(URL_PASSWORD, '$1:***@') : text;
}

/** A request URL as logged: the path, with any query string replaced by `?…`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return redactUrlPasswords(q === -1 ? url : `${url.slice(0, q)}?…`);
}

export function redactLogLine(line: string): string {
  const out = line.includes('?') ? line.replace(QUERY, '$1?…') : line;
  return redactUrlPasswords(out);
}

/** pino options of the hub's logger. */
export const redactingLogOptions = {
  hooks: { streamWrite: redactLogLine },
  serializers: {
    url: (u: unknown) => (typeof u === 'string' ? redactUrl(u) : u),
    // A request as fastify would log it, without its query string or headers (Authorization).
    req: (r: { method?: string; url?: string; ip?: string }) => ({
      method: r.method,
      url: typeof r.url === 'string' ? redactUrl(r.url) : r.url,
      remoteAddress: r.ip,
    }),
  },
};

/**
 * The same for a payload from a box, before ingest reads it: an agent older than its own redaction
 * (docs/agent.md "Secrets") may still send `rtsp://user:pass@…` in a `source.down` reason, and the hub
 * would otherwise store it and pass it on (records, CSV, dashboard, webhooks). Payloads without an `@`
 * (nearly all) are returned as they are; one that is not UTF-8 is left for ingest to refuse.
 */
export function redactPayload(payload: Buffer): Buffer {
  if (payload.indexOf(0x40) === -1) return payload;
  const text = payload.toString('utf8');
  const out = redactUrlPasswords(text);
  if (out === text || !Buffer.from(text, 'utf8').equals(payload)) return payload;
  return Buffer.from(out, 'utf8');
}

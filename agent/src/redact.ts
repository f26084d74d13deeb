// Camera credentials never leave the box (docs/agent.md "Secrets"): an input such as
// `rtsp://user:pass@camera/stream` is printed by ffmpeg and ffprobe in their errors, and from there it
// would reach `source.down` details, births, command results and the log. Everything the agent sends
// or logs passes through here and shows `rtsp://user:***@camera/stream` instead.

/** `scheme://user:password@` → `scheme://user:***@`; the user name stays, it helps to find the camera. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:"'\\]*):[^\s/?#@"'\\]*@/gi;

export function redactCredentials(text: string): string {
  return text.includes('@') ? text.replace(URL_PASSWORD, '$1:***@') : text;
}

/** The same for every string inside a JSON-like value. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactCredentials(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

/** pino options of the agent's logger: each finished line is redacted before it is written. */
export const redactingLogHooks = { streamWrite: redactCredentials };

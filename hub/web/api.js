// REST calls with the admin token kept in localStorage (DESIGN.md: "keeps it in the browser").
const KEY = 'classroom.hub.token';

export class AuthError extends Error {}

export function getToken() {
  return localStorage.getItem(KEY);
}
export function setToken(token) {
  localStorage.setItem(KEY, token);
}
export function clearToken() {
  localStorage.removeItem(KEY);
}

/** Takes a token from `/#token=…` (the link the demo prints), then removes it from the address bar. */
export function takeTokenFromHash() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${getToken() ?? ''}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) throw new AuthError('unauthorized');
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message ?? `HTTP ${res.status}`);
  return data;
}

export function streamUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/api/stream?token=${encodeURIComponent(getToken() ?? '')}`;
}

/**
 * Follows `nextCursor` until the last page (or `maxPages`), returning the concatenated `key` arrays.
 * `stop()` ends early, e.g. when the view that asked has been closed.
 */
export async function apiPages(path, key, stop = () => false, maxPages = 50) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    out.push(...page[key]);
    cursor = page.nextCursor;
    if (!cursor || stop()) break;
  }
  return out;
}

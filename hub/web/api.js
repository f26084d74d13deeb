// REST calls as the logged-in staff user (the HttpOnly session cookie goes with every same-origin
// request) or, for automation and the demo link, with the admin token kept in localStorage
// (DESIGN.md: "keeps it in the browser").
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

/** The raw response of an authorised request (for pictures); throws AuthError on 401. */
export async function apiRaw(method, path) {
  const res = await fetch(path, {
    method,
    headers: getToken() ? { authorization: `Bearer ${getToken()}` } : {},
  });
  if (res.status === 401) throw new AuthError('unauthorized');
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw Object.assign(new Error(data?.error?.message ?? `HTTP ${res.status}`), { code: data?.error?.code });
  }
  return res;
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: {
      ...(getToken() ? { authorization: `Bearer ${getToken()}` } : {}),
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
  const token = getToken();
  // Without a token the browser sends the session cookie with the upgrade request.
  return `${proto}//${location.host}/api/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
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

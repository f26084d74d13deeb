// Staff login (docs/hub-people.md, "Sessions"): name and password open a server-side session whose
// id lives only in an HttpOnly cookie; the admin token still works for automation and the demo link.
import { clearToken, getToken, setToken } from './api.js';
import { addStrings } from './i18n.js';

addStrings({
  'zh-CN': {
    'login.heading': '登录',
    'login.name': '用户名',
    'login.password': '密码',
    'login.or': '或使用管理令牌（自动化、演示链接）',
    'login.badPassword': '用户名或密码错误',
    'login.throttled': '失败次数过多，请稍后再试',
    'login.missing': '请输入用户名和密码，或管理令牌',
    'audit.link': '审计日志',
  },
  en: {
    'login.heading': 'Log in',
    'login.name': 'User name',
    'login.password': 'Password',
    'login.or': 'or the admin token (automation, demo link)',
    'login.badPassword': 'Wrong user name or password',
    'login.throttled': 'Too many failed logins; try again later',
    'login.missing': 'Enter a user name and password, or the admin token',
    'audit.link': 'Audit log',
  },
});

/** Who the hub sees: `{name, role, via}` or null. */
export async function whoami() {
  const res = await fetch('/api/session', {
    headers: getToken() ? { authorization: `Bearer ${getToken()}` } : {},
  });
  if (res.status === 401) return null; // a stale token
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()).user;
}

/**
 * Logs in from the form's fields. Returns null on success, else the i18n key of the message to show.
 * A token, when given, wins: it is checked by the caller's first API request.
 */
export async function login({ name, password, token }) {
  if (token) {
    setToken(token);
    return null;
  }
  if (!name || !password) return 'login.missing';
  clearToken();
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  if (res.ok) return null;
  if (res.status === 429) return 'login.throttled';
  if (res.status === 401 || res.status === 400) return 'login.badPassword';
  return 'login.failed';
}

export async function logout() {
  clearToken();
  await fetch('/api/session', { method: 'DELETE' }).catch(() => undefined);
}

/** Shows the signed-in user and the admin-only link to the audit page. */
export function showUser(user) {
  const who = document.getElementById('whoami');
  if (who) who.textContent = user ? `${user.name} (${user.role})` : '';
  const link = document.getElementById('audit-link');
  if (link) link.hidden = user?.role !== 'admin';
  document.body.dataset.role = user?.role ?? '';
}

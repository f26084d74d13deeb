// The audit page (docs/hub-people.md, "Audit log"): GET /api/audit with filters, newest first, one
// page at a time. For admins; it uses the dashboard's session cookie or admin token. Every string
// from the hub is set with textContent.
import { AuthError, api } from './api.js';
import { addStrings, applyStatic, formatTime, getLang, setLang, t } from './i18n.js';

const LANG_KEY = 'classroom.hub.lang';
const ACTIONS = [
  'alarm.ack',
  'command.send',
  'snapshot.take',
  'patrol.view',
  'room.privacy',
  'config.set',
  'maintenance.set',
  'schedule.set',
  'agent.provision',
  'agent.move',
  'agent.certificate',
  'account.provision',
  'user.add',
  'user.disable',
  'webhook.add',
  'webhook.remove',
  'session.login',
  'session.login_failed',
  'session.logout',
  'access.denied',
];

addStrings({
  'zh-CN': {
    'audit.title': '审计日志',
    'audit.back': '返回监控中心',
    'audit.from': '开始',
    'audit.to': '结束',
    'audit.user': '用户',
    'audit.action': '操作',
    'audit.any': '全部',
    'audit.search': '查询',
    'audit.more': '更多',
    'audit.empty': '没有记录',
    'audit.col.ts': '时间',
    'audit.col.actor': '用户',
    'audit.col.role': '角色',
    'audit.col.action': '操作',
    'audit.col.target': '对象',
    'audit.col.detail': '详情',
    'audit.col.ip': '来源地址',
    'audit.login': '请先在监控中心登录',
    'audit.forbidden': '只有管理员可以查看审计日志',
    'audit.failed': '无法读取审计日志：{message}',
    'act.alarm.ack': '确认告警',
    'act.command.send': '发送命令',
    'act.snapshot.take': '抓拍画面',
    'act.patrol.view': '巡课查看',
    'act.room.privacy': '隐私教室设置',
    'act.config.set': '修改配置',
    'act.maintenance.set': '维护模式',
    'act.schedule.set': '导入课表',
    'act.agent.provision': '添加终端',
    'act.agent.move': '终端换教室',
    'act.agent.certificate': '签发终端证书',
    'act.account.provision': '添加平台账号',
    'act.user.add': '添加用户',
    'act.user.disable': '停用用户',
    'act.webhook.add': '添加 Webhook',
    'act.webhook.remove': '删除 Webhook',
    'act.session.login': '登录',
    'act.session.login_failed': '登录失败',
    'act.session.logout': '退出',
    'act.access.denied': '越权访问被拒',
  },
  en: {
    'audit.title': 'Audit log',
    'audit.back': 'Back to the dashboard',
    'audit.from': 'From',
    'audit.to': 'To',
    'audit.user': 'User',
    'audit.action': 'Action',
    'audit.any': 'Any',
    'audit.search': 'Search',
    'audit.more': 'More',
    'audit.empty': 'No entries',
    'audit.col.ts': 'Time',
    'audit.col.actor': 'User',
    'audit.col.role': 'Role',
    'audit.col.action': 'Action',
    'audit.col.target': 'Target',
    'audit.col.detail': 'Detail',
    'audit.col.ip': 'From address',
    'audit.login': 'Log in on the dashboard first',
    'audit.forbidden': 'Only admins may read the audit log',
    'audit.failed': 'Cannot read the audit log: {message}',
    'act.alarm.ack': 'Alarm acknowledged',
    'act.command.send': 'Command sent',
    'act.snapshot.take': 'Snapshot taken',
    'act.patrol.view': 'Patrol view',
    'act.room.privacy': 'Room privacy',
    'act.config.set': 'Configuration changed',
    'act.maintenance.set': 'Maintenance mode',
    'act.schedule.set': 'Timetable imported',
    'act.agent.provision': 'Agent provisioned',
    'act.agent.move': 'Agent moved',
    'act.agent.certificate': 'Agent certificate issued',
    'act.account.provision': 'Platform account provisioned',
    'act.user.add': 'User added',
    'act.user.disable': 'User disabled',
    'act.webhook.add': 'Webhook added',
    'act.webhook.remove': 'Webhook removed',
    'act.session.login': 'Logged in',
    'act.session.login_failed': 'Failed login',
    'act.session.logout': 'Logged out',
    'act.access.denied': 'Access denied',
  },
});

const $ = (id) => document.getElementById(id);
let cursor = null;

function actionLabel(action) {
  const key = `act.${action}`;
  const label = t(key);
  return label === key ? action : label;
}

function query() {
  const p = new URLSearchParams({ limit: '100' });
  const from = $('a-from').value;
  const to = $('a-to').value;
  if (from) p.set('from', String(new Date(from).getTime()));
  if (to) p.set('to', String(new Date(to).getTime()));
  if ($('a-user').value.trim()) p.set('user', $('a-user').value.trim());
  if ($('a-action').value) p.set('action', $('a-action').value);
  if (cursor) p.set('cursor', cursor);
  return p;
}

function row(e) {
  const tr = document.createElement('tr');
  tr.dataset.action = e.action;
  const cells = [
    formatTime(e.ts),
    e.actor,
    e.role,
    actionLabel(e.action),
    e.target ?? '',
    Object.keys(e.detail).length ? JSON.stringify(e.detail) : '',
    e.ip ?? '',
  ];
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (i === 5) td.className = 'audit-detail';
    tr.append(td);
  });
  return tr;
}

async function load(append) {
  $('audit-error').textContent = '';
  if (!append) cursor = null;
  try {
    const data = await api('GET', `/api/audit?${query()}`);
    if (!append) $('audit-rows').replaceChildren();
    for (const e of data.entries) $('audit-rows').append(row(e));
    cursor = data.nextCursor;
    $('audit-more').hidden = !cursor;
    $('audit-empty').hidden = $('audit-rows').children.length > 0;
  } catch (err) {
    if (err instanceof AuthError) $('audit-error').textContent = t('audit.login');
    else if (/needs the admin role/.test(String(err.message)))
      $('audit-error').textContent = t('audit.forbidden');
    else $('audit-error').textContent = t('audit.failed', { message: err.message });
  }
}

function fillActions() {
  const sel = $('a-action');
  for (const opt of [...sel.options].slice(1)) opt.remove();
  for (const a of ACTIONS) {
    const o = document.createElement('option');
    o.value = a;
    o.textContent = actionLabel(a);
    sel.append(o);
  }
}

function applyLang(lang) {
  setLang(lang);
  localStorage.setItem(LANG_KEY, lang);
  const selected = $('a-action').value;
  applyStatic();
  document.title = t('audit.title');
  fillActions();
  $('a-action').value = selected;
  $('lang').textContent = getLang() === 'zh-CN' ? 'English' : '中文';
  // Rows show translated action names: draw them again.
  void load(false);
}

$('audit-filters').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void load(false);
});
$('audit-more').addEventListener('click', () => void load(true));
$('lang').addEventListener('click', () => applyLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
applyLang(localStorage.getItem(LANG_KEY) ?? 'zh-CN');

// Dashboard entry: login as a staff user (session cookie) or by admin token, initial load over REST, live updates over /api/stream,
// redraws batched per animation frame (smooth with 1,000 rooms).
import { bindAlarms, renderAlarms } from './alarms.js';
import { AuthError, api, clearToken, getToken, streamUrl, takeTokenFromHash } from './api.js';
import {
  addCaptures,
  closeDetail,
  onPrecheck,
  openDetail,
  relabelCharts,
  renderDetail,
  resizeCharts,
  takeSnapshot,
} from './detail.js';
import { bindGrid, refreshTiles, renderGrid, renderHeader, updateRooms } from './grid.js';
import { applyStatic, getLang, setLang, t } from './i18n.js';
import { bindPatrol, relabelPatrol, startPatrol, stopPatrol } from './patrol.js';
import { login, logout, showUser, whoami } from './session.js';
import {
  applyStreamMessage,
  markStructure,
  onRender,
  setAlarms,
  setOverview,
  setRooms,
  state,
} from './state.js';
import { bindUsage, loadUsage } from './usage.js';

const $ = (id) => document.getElementById(id);
const LANG_KEY = 'classroom.hub.lang';

class Stream {
  constructor() {
    this.ws = null;
    this.rooms = [];
    this.backoff = 1000;
    this.stopped = true;
    this.timer = 0;
  }
  start() {
    this.stopped = false;
    this.connect();
  }
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
  }
  subscribe(rooms) {
    this.rooms = rooms;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'subscribe', rooms }));
  }
  connect() {
    const ws = new WebSocket(streamUrl());
    this.ws = ws;
    let resync = false;
    ws.onopen = () => {
      this.backoff = 1000;
      setConn(true);
      if (this.rooms.length) ws.send(JSON.stringify({ type: 'subscribe', rooms: this.rooms }));
    };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === 'hello') {
        // Anything missed while disconnected is fetched again.
        if (resync || this.everConnected) void loadAll();
        this.everConnected = true;
        resync = true;
        return;
      }
      if (msg.type === 'captures') return addCaptures(msg.data.room, msg.data.records);
      if (msg.type === 'precheck') return onPrecheck(msg.data);
      applyStreamMessage(msg);
    };
    ws.onclose = () => {
      setConn(false);
      if (this.stopped || this.ws !== ws) return;
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 30_000);
    };
  }
}

const stream = new Stream();

function setConn(on) {
  const c = $('conn');
  c.className = `conn ${on ? 'conn-on' : 'conn-off'}`;
  c.textContent = t(on ? 'conn.on' : 'conn.off');
  c.dataset.state = on ? 'on' : 'off';
}

function showLogin(message) {
  stream.stop();
  clearInterval(overviewTimer);
  $('login').hidden = false;
  $('tabs').hidden = true;
  $('logout').hidden = true;
  $('view-rooms').hidden = true;
  $('view-alarms').hidden = true;
  $('view-patrol').hidden = true;
  $('view-usage').hidden = true;
  stopPatrol();
  $('detail').hidden = true;
  $('login-error').textContent = message ? t(message) : '';
  showUser(null);
  $('login-name').focus();
}

/** Operators and admins see the patrol wall (docs/hub-people.md, "Roles"). */
const PATROL_ROLES = new Set(['operator', 'admin']);

function showView(view) {
  if (view === 'patrol' && !PATROL_ROLES.has(state.role)) view = 'rooms';
  state.view = view;
  $('view-rooms').hidden = view !== 'rooms';
  $('view-alarms').hidden = view !== 'alarms';
  $('view-patrol').hidden = view !== 'patrol';
  $('view-usage').hidden = view !== 'usage';
  if (view === 'usage') void loadUsage(reportError);
  if (view === 'patrol') startPatrol(reportError);
  else stopPatrol();
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === view);
}

async function loadAll() {
  const [rooms, active, acked, overview, session] = await Promise.all([
    api('GET', '/api/rooms'),
    api('GET', '/api/alarms?state=active&limit=5000'),
    api('GET', '/api/alarms?state=acked&limit=5000'),
    api('GET', '/api/overview'),
    api('GET', '/api/session'),
  ]);
  setRooms(rooms.rooms);
  setAlarms([...active.alarms, ...acked.alarms]);
  setOverview(overview);
  state.role = session.user?.role ?? null;
  document.querySelector('.tab[data-view="patrol"]').hidden = !PATROL_ROLES.has(state.role);
}

/** The class on now and the header's class share change with the clock, not with events. */
const OVERVIEW_REFRESH_MS = 30_000;
let overviewTimer = 0;

function startOverviewRefresh() {
  clearInterval(overviewTimer);
  overviewTimer = setInterval(() => {
    api('GET', '/api/overview')
      .then((ov) => setOverview(ov))
      .catch(reportError);
    refreshTiles();
  }, OVERVIEW_REFRESH_MS);
}

async function enter() {
  try {
    await loadAll();
  } catch (err) {
    if (err instanceof AuthError) return loggedOut();
    return showLogin('login.failed');
  }
  showUser(await whoami().catch(() => null));
  $('login').hidden = true;
  $('tabs').hidden = false;
  $('logout').hidden = false;
  showView(state.view);
  stream.start();
  startOverviewRefresh();
}

function applyLang(lang) {
  setLang(lang);
  localStorage.setItem(LANG_KEY, lang);
  applyStatic();
  $('lang').textContent = getLang() === 'zh-CN' ? 'English' : '中文';
  setConn($('conn').dataset.state === 'on');
  markStructure();
  relabelCharts();
  if (state.view === 'usage') void loadUsage(reportError);
  relabelPatrol();
}

/** The hub refused the caller: a wrong token says so; an ended session just asks to log in again. */
function loggedOut() {
  const hadToken = Boolean(getToken());
  clearToken();
  showLogin(hadToken ? 'login.invalid' : undefined);
}

function reportError(err) {
  if (err instanceof AuthError) loggedOut();
  else console.error(err);
}

onRender((change) => {
  if (change.structural) renderGrid();
  else if (change.rooms.size) updateRooms(change.rooms);
  if (change.alarms || change.structural) {
    renderAlarms();
    renderHeader();
  }
  if (state.detailRoom && (change.structural || change.alarms || change.rooms.has(state.detailRoom)))
    renderDetail();
});

function bind() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fields = {
      name: $('login-name').value.trim(),
      password: $('login-password').value,
      token: $('token').value.trim(),
    };
    $('login-password').value = '';
    $('token').value = '';
    const problem = await login(fields).catch(() => 'login.failed');
    if (problem) return showLogin(problem);
    void enter();
  });
  $('logout').addEventListener('click', () => {
    void logout().then(() => showLogin());
  });
  $('lang').addEventListener('click', () => applyLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  for (const b of document.querySelectorAll('.tab'))
    b.addEventListener('click', () => showView(b.dataset.view));
  const filters = state.filters;
  $('f-status').addEventListener('change', (e) => {
    filters.status = e.target.value;
    markStructure();
  });
  $('f-building').addEventListener('change', (e) => {
    filters.building = e.target.value;
    markStructure();
  });
  $('f-attention').addEventListener('change', (e) => {
    filters.attention = e.target.checked;
    markStructure();
  });
  $('f-q').addEventListener('input', (e) => {
    filters.q = e.target.value.trim();
    markStructure();
  });
  bindGrid((roomId) => void openDetail(roomId, stream));
  bindAlarms(reportError);
  bindPatrol((roomId) => void openDetail(roomId, stream), reportError);
  bindUsage(reportError);
  $('d-close').addEventListener('click', () => closeDetail(stream));
  $('d-snap').addEventListener('click', () => void takeSnapshot());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.detailRoom) closeDetail(stream);
  });
  let resizeFrame = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(resizeCharts);
  });
}

bind();
applyLang(localStorage.getItem(LANG_KEY) ?? 'zh-CN');
takeTokenFromHash();
if (getToken()) void enter();
else
  whoami().then(
    (user) => (user ? enter() : showLogin()),
    () => showLogin('login.failed'),
  );

// The patrol wall (巡课, docs/hub-people.md "Patrol wall"): live thumbnails of 4, 9 or 16 rooms a page,
// filtered by building, floor, class on now and problem, turning pages on a timer. Thumbnails are
// asked for only while the wall is on screen, only for the rooms of the page shown.
import { api, apiRaw } from './api.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
/** How often the pictures of the shown page are refreshed (the box makes one every 5 s). */
const THUMB_REFRESH_MS = 5000;
/** How often the room list (and so the filters' effect) is read again. */
const LIST_REFRESH_MS = 30_000;

const wall = {
  active: false,
  rooms: [],
  page: 0,
  size: 9,
  intervalS: 20,
  paused: false,
  filters: { building: '', floor: '', inClass: false, problem: false },
  /** room id → object URL of its current picture */
  urls: new Map(),
  timers: { turn: 0, thumbs: 0, list: 0 },
  /** Bumped on every page change, so late answers for an old page are dropped. */
  generation: 0,
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function pages() {
  return Math.max(1, Math.ceil(wall.rooms.length / wall.size));
}

function pageRooms() {
  return wall.rooms.slice(wall.page * wall.size, (wall.page + 1) * wall.size);
}

async function loadList() {
  const q = new URLSearchParams();
  if (wall.filters.building) q.set('building', wall.filters.building);
  if (wall.filters.floor) q.set('floor', wall.filters.floor);
  if (wall.filters.inClass) q.set('inClass', 'true');
  if (wall.filters.problem) q.set('problem', 'true');
  const qs = q.toString();
  const res = await api('GET', `/api/patrol/rooms${qs ? `?${qs}` : ''}`);
  if (!wall.active) return;
  wall.rooms = res.rooms;
  if (wall.page >= pages()) wall.page = 0;
  renderFilters(res.rooms);
  renderPage();
}

/** Building and floor choices come from the unfiltered list the first time, then keep their options. */
const known = { buildings: new Set(), floors: new Set() };
const collator = new Intl.Collator(undefined, { numeric: true });

function fillSelect(select, values, current) {
  const have = [...select.options].slice(1).map((o) => o.value);
  const want = [...values].sort(collator.compare);
  if (have.join('\u0000') !== want.join('\u0000')) {
    const all = select.options[0];
    select.replaceChildren(
      all,
      ...want.map((v) => {
        const o = el('option', null, v);
        o.value = v;
        return o;
      }),
    );
  }
  select.value = current;
}

function renderFilters(rooms) {
  for (const r of rooms) {
    if (r.room.building) known.buildings.add(r.room.building);
    if (r.room.floor) known.floors.add(r.room.floor);
  }
  fillSelect($('p-building'), known.buildings, wall.filters.building);
  fillSelect($('p-floor'), known.floors, wall.filters.floor);
}

function tileFor(r) {
  const tile = el('button', `wall-tile${r.problem ? ' wall-problem' : ''}`);
  tile.type = 'button';
  tile.dataset.room = r.room.id;
  const pic = el('div', 'wall-pic');
  const img = el('img');
  img.alt = r.room.name || r.room.id;
  img.hidden = true;
  const note = el('span', 'wall-note', r.camera ? t('patrol.loading') : t('patrol.noCamera'));
  pic.append(img, note);
  const cap = el('div', 'wall-cap');
  cap.append(el('strong', null, r.room.name || r.room.id));
  const bits = [r.room.building, r.room.floor && t('floor.label', { floor: r.room.floor })].filter(Boolean);
  cap.append(el('span', 'wall-where', bits.join(' · ')));
  if (r.classNow) cap.append(el('span', 'wall-class', `${t('tile.classNow')} ${r.classNow.title}`));
  if (r.availability !== 'online') cap.append(el('span', 'wall-bad', t(`avail.${r.availability}`)));
  else if (r.openAlarms > 0) cap.append(el('span', 'wall-bad', t('patrol.alarms', { n: r.openAlarms })));
  tile.append(pic, cap);
  return tile;
}

function renderPage() {
  wall.generation++;
  const grid = $('wall');
  grid.dataset.size = String(wall.size);
  const shown = pageRooms();
  const ids = new Set(shown.map((r) => r.room.id));
  // Pictures of rooms that left the page are released at once.
  for (const [id, url] of wall.urls) {
    if (!ids.has(id)) {
      URL.revokeObjectURL(url);
      wall.urls.delete(id);
    }
  }
  grid.replaceChildren(...shown.map(tileFor));
  $('p-page').textContent = t('patrol.page', {
    page: wall.page + 1,
    pages: pages(),
    rooms: wall.rooms.length,
  });
  $('p-empty').hidden = wall.rooms.length > 0;
  void refreshThumbs();
}

async function refreshThumbs() {
  const gen = wall.generation;
  await Promise.all(
    pageRooms()
      .filter((r) => r.camera && r.availability === 'online')
      .map((r) => refreshThumb(r, gen)),
  );
}

async function refreshThumb(r, gen) {
  const tile = document.querySelector(`#wall .wall-tile[data-room="${CSS.escape(r.room.id)}"]`);
  if (!tile) return;
  const img = tile.querySelector('img');
  const note = tile.querySelector('.wall-note');
  try {
    const res = await apiRaw('GET', `/api/rooms/${encodeURIComponent(r.room.id)}/thumbnail`);
    if (gen !== wall.generation || !wall.active) return;
    if (res.status === 204) {
      const why = decodeURIComponent(res.headers.get('x-thumbnail-unavailable') ?? '');
      note.textContent = t('patrol.noPicture', { why });
      note.hidden = false;
      img.hidden = true;
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    if (gen !== wall.generation || !wall.active) return URL.revokeObjectURL(url);
    const old = wall.urls.get(r.room.id);
    wall.urls.set(r.room.id, url);
    img.onload = () => {
      if (old) URL.revokeObjectURL(old);
    };
    img.src = url;
    img.hidden = false;
    note.hidden = true;
    tile.dataset.at = res.headers.get('x-thumbnail-at') ?? '';
  } catch (err) {
    if (gen !== wall.generation) return;
    if (err.code === 'room_private') {
      // Marked private since the list was read: off the wall at once.
      wall.rooms = wall.rooms.filter((x) => x.room.id !== r.room.id);
      return renderPage();
    }
    note.textContent = t('patrol.noPicture', { why: err.message ?? String(err) });
    note.hidden = false;
    console.warn('thumbnail failed', r.room.id, err);
  }
}

function turn(delta) {
  wall.page = (wall.page + delta + pages()) % pages();
  renderPage();
  scheduleTurn();
}

function scheduleTurn() {
  clearTimeout(wall.timers.turn);
  const on = wall.active && !wall.paused && pages() > 1;
  // Whether pages turn by themselves, for people and for the browser tests.
  $('wall').dataset.turning = on ? 'on' : 'off';
  if (on) wall.timers.turn = setTimeout(() => turn(1), wall.intervalS * 1000);
}

function renderPause() {
  $('p-pause').textContent = t(wall.paused ? 'patrol.resume' : 'patrol.pause');
  $('p-pause').setAttribute('aria-pressed', String(wall.paused));
}

/** Shows the wall and starts its timers; `onError` gets failures of the list. */
export function startPatrol(onError) {
  if (wall.active) return;
  wall.active = true;
  renderPause();
  const list = () => loadList().then(scheduleTurn, onError);
  void list();
  wall.timers.list = setInterval(list, LIST_REFRESH_MS);
  wall.timers.thumbs = setInterval(() => {
    if (!document.hidden) void refreshThumbs();
  }, THUMB_REFRESH_MS);
}

/** Leaves the wall: no more thumbnail requests, pictures released. */
export function stopPatrol() {
  if (!wall.active) return;
  wall.active = false;
  wall.generation++;
  clearTimeout(wall.timers.turn);
  clearInterval(wall.timers.list);
  clearInterval(wall.timers.thumbs);
  for (const url of wall.urls.values()) URL.revokeObjectURL(url);
  wall.urls.clear();
  $('wall').replaceChildren();
}

export function relabelPatrol() {
  renderPause();
  if (wall.active) renderPage();
}

export function bindPatrol(onOpen, onError) {
  const reload = () => {
    wall.page = 0;
    loadList().then(scheduleTurn, onError);
  };
  $('p-building').addEventListener('change', (e) => {
    wall.filters.building = e.target.value;
    reload();
  });
  $('p-floor').addEventListener('change', (e) => {
    wall.filters.floor = e.target.value;
    reload();
  });
  $('p-inclass').addEventListener('change', (e) => {
    wall.filters.inClass = e.target.checked;
    reload();
  });
  $('p-problem').addEventListener('change', (e) => {
    wall.filters.problem = e.target.checked;
    reload();
  });
  $('p-size').addEventListener('change', (e) => {
    wall.size = Number(e.target.value);
    wall.page = 0;
    renderPage();
    scheduleTurn();
  });
  $('p-interval').addEventListener('change', (e) => {
    wall.intervalS = Number(e.target.value);
    scheduleTurn();
  });
  $('p-pause').addEventListener('click', () => {
    wall.paused = !wall.paused;
    renderPause();
    scheduleTurn();
  });
  $('p-prev').addEventListener('click', () => turn(-1));
  $('p-next').addEventListener('click', () => turn(1));
  $('wall').addEventListener('click', (ev) => {
    const tile = ev.target.closest('.wall-tile');
    if (tile) onOpen(tile.dataset.room);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && wall.active) void refreshThumbs();
  });
}

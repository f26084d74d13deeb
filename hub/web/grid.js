// Building → floor → room grid. Tiles are created once per room and reused; a structural change
// (rooms added, filters) re-groups existing tiles, a state change only touches the tiles concerned.
import { getLang, sourceName, t } from './i18n.js';
import { condition, needsAttention, roomAlarms, roomStatus, state } from './state.js';
import { sinceText } from './status.js';

const tiles = new Map();
const grid = () => document.getElementById('grid');

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function tileFor(roomId) {
  let tile = tiles.get(roomId);
  if (!tile) {
    tile = el('button', 'tile');
    tile.type = 'button';
    tile.dataset.room = roomId;
    tile.append(
      el('span', 'tile-name'),
      el('span', 'tile-status'),
      el('span', 'tile-class'),
      el('span', 'tile-badge'),
      el('span', 'tile-people'),
    );
    tiles.set(roomId, tile);
  }
  return tile;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** The tile's words: "黑屏 · 摄像头 · 5 分钟前" (problem, source, since), or the level when nothing is wrong. */
export function problemText(entry, c, now = Date.now()) {
  if (!c.problem) return t(`level.${c.level}`);
  const src = c.source ? entry.agent?.sources.find((s) => s.id === c.source) : undefined;
  const parts = [t(`problem.${c.problem}`)];
  if (src) parts.push(sourceName(src));
  const since = sinceText(c.since, now, getLang());
  if (since) parts.push(since);
  return `${parts.join(' · ')}${c.more ? ` +${c.more}` : ''}`;
}

function classText(roomId) {
  const cls = state.overview.get(roomId)?.classNow;
  return cls ? `${t('tile.classNow')} ${cls.title}` : '';
}

function updateTile(roomId) {
  const entry = state.rooms.get(roomId);
  if (!entry) return;
  const tile = tileFor(roomId);
  const c = condition(entry);
  const cls = `tile status-${c.level}`;
  if (tile.className !== cls) tile.className = cls;
  if (tile.dataset.problem !== (c.problem ?? '')) tile.dataset.problem = c.problem ?? '';
  const [name, st, klass, badge, people] = tile.children;
  const label = entry.room.name || entry.room.id;
  setText(name, label);
  name.title = `${label} (${entry.room.id})`;
  setText(st, problemText(entry, c));
  const cText = classText(roomId);
  setText(klass, cText);
  klass.hidden = cText === '';
  const open = roomAlarms(roomId).length;
  setText(badge, open > 0 ? String(open) : '');
  badge.hidden = open === 0;
  // The box's newest count (docs/hub-people.md "Occupancy"); hidden when there is no recent one.
  const n = state.overview.get(roomId)?.people;
  const pText = typeof n === 'number' ? t('tile.people', { n }) : '';
  setText(people, pText);
  people.hidden = pText === '';
  people.dataset.people = typeof n === 'number' ? String(n) : '';
}

/** Refreshes every tile's words (the "since" texts age, the class on now changes). */
export function refreshTiles() {
  for (const id of tiles.keys()) updateTile(id);
}

function matches(entry) {
  const f = state.filters;
  if (f.building !== 'all' && entry.room.building !== f.building) return false;
  if (f.status !== 'all' && roomStatus(entry) !== f.status) return false;
  if (f.attention && !needsAttention(entry)) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!entry.room.name.toLowerCase().includes(q) && !entry.room.id.toLowerCase().includes(q)) return false;
  }
  return true;
}

const collator = new Intl.Collator(undefined, { numeric: true });

/** Rebuilds the grouping; reuses tile elements so 1,000 rooms re-group in one layout pass. */
export function renderGrid() {
  const groups = new Map();
  let shown = 0;
  for (const entry of state.rooms.values()) {
    updateTile(entry.room.id);
    if (!matches(entry)) continue;
    shown++;
    const b = entry.room.building || '—';
    const f = entry.room.floor || '—';
    if (!groups.has(b)) groups.set(b, new Map());
    const floors = groups.get(b);
    if (!floors.has(f)) floors.set(f, []);
    floors.get(f).push(entry);
  }
  const frag = document.createDocumentFragment();
  for (const b of [...groups.keys()].sort(collator.compare)) {
    const section = el('section', 'building');
    section.append(el('h2', null, b));
    const floors = groups.get(b);
    for (const f of [...floors.keys()].sort(collator.compare)) {
      const row = el('div', 'floor');
      row.append(el('h3', null, t('floor.label', { floor: f })));
      const list = el('div', 'tiles');
      const entries = floors
        .get(f)
        .sort((x, y) => collator.compare(x.room.name || x.room.id, y.room.name || y.room.id));
      for (const e of entries) list.append(tileFor(e.room.id));
      row.append(list);
      section.append(row);
    }
    frag.append(section);
  }
  grid().replaceChildren(frag);
  document.getElementById('counts').textContent = t('counts', { shown, total: state.rooms.size });
  renderBuildingFilter();
  renderHeader();
}

function renderBuildingFilter() {
  const select = document.getElementById('f-building');
  const buildings = [...new Set([...state.rooms.values()].map((e) => e.room.building || '—'))].sort(
    collator.compare,
  );
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('\u0000') === buildings.join('\u0000')) return;
  const all = select.options[0];
  const opts = buildings.map((b) => {
    const o = el('option', null, b);
    o.value = b;
    return o;
  });
  select.replaceChildren(all, ...opts);
  select.value = buildings.includes(state.filters.building) ? state.filters.building : 'all';
}

/** Cheap path: refresh only the given tiles, unless a filter could move them in or out. */
export function updateRooms(roomIds) {
  const f = state.filters;
  if (f.status !== 'all' || f.attention) return renderGrid();
  for (const id of roomIds) {
    if (!tiles.has(id)) return renderGrid();
    updateTile(id);
  }
  renderHeader();
}

export function bindGrid(onOpen) {
  grid().addEventListener('click', (ev) => {
    const tile = ev.target.closest('.tile');
    if (tile) onOpen(tile.dataset.room);
  });
}

/** The header: rooms online, open alarms (live, from the same state as the tiles) and the hub's
 * share of today's classes captured healthily (GET /api/overview, docs/hub-people.md). */
export function renderHeader() {
  let online = 0;
  for (const e of state.rooms.values()) if (e.agent?.availability === 'online') online++;
  let active = 0;
  for (const al of state.alarms.values()) if (al.state === 'active') active++;
  setText(document.getElementById('h-online'), t('header.online', { online, total: state.rooms.size }));
  setText(document.getElementById('h-alarms'), t('header.alarms', { open: state.alarms.size, active }));
  const cl = state.header?.classes;
  const share =
    cl && cl.counted > 0
      ? t('header.classes', { pct: Math.round(cl.share * 100), healthy: cl.healthy, counted: cl.counted })
      : t('header.noClasses');
  const h = document.getElementById('h-classes');
  setText(h, share);
  h.title = t('header.classesTitle');
}

// Building → floor → room grid. Tiles are created once per room and reused; a structural change
// (rooms added, filters) re-groups existing tiles, a state change only touches the tiles concerned.
import { t } from './i18n.js';
import { needsAttention, roomAlarms, roomStatus, state } from './state.js';

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
    tile.append(el('span', 'tile-name'), el('span', 'tile-status'), el('span', 'tile-badge'));
    tiles.set(roomId, tile);
  }
  return tile;
}

function updateTile(roomId) {
  const entry = state.rooms.get(roomId);
  if (!entry) return;
  const tile = tileFor(roomId);
  const status = roomStatus(entry);
  const alarms = roomAlarms(roomId);
  const active = alarms.filter((a) => a.state === 'active').length;
  const cls = `tile status-${status}${active > 0 ? ' has-alarm' : ''}`;
  if (tile.className !== cls) tile.className = cls;
  const [name, st, badge] = tile.children;
  const label = entry.room.name || entry.room.id;
  if (name.textContent !== label) name.textContent = label;
  name.title = `${label} (${entry.room.id})`;
  const stText = t(`status.${status}`);
  if (st.textContent !== stText) st.textContent = stText;
  const badgeText = alarms.length > 0 ? String(alarms.length) : '';
  if (badge.textContent !== badgeText) badge.textContent = badgeText;
  badge.hidden = alarms.length === 0;
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
}

export function bindGrid(onOpen) {
  grid().addEventListener('click', (ev) => {
    const tile = ev.target.closest('.tile');
    if (tile) onOpen(tile.dataset.room);
  });
}

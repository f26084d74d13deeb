// Utilization heatmap (docs/hub-people.md "Utilization"): a building's rooms × the hours of a day, or
// × the days of a week, from GET /api/utilization. Shade is the share of the bucket with people;
// scheduled time is framed, so a class with nobody (hatched) and use with no booking (dotted) stand out.
import { api } from './api.js';
import { getLang, t } from './i18n.js';
import { state } from './state.js';

const $ = (id) => document.getElementById(id);
let loading = 0;

function localDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function buildings() {
  const set = new Set();
  for (const e of state.rooms.values()) if (e.room.building) set.add(e.room.building);
  return [...set].sort((a, b) => a.localeCompare(b, getLang()));
}

function renderBuildings() {
  const sel = $('u-building');
  const keep = sel.value;
  const all = buildings();
  sel.replaceChildren(
    ...all.map((b) => {
      const o = document.createElement('option');
      o.value = b;
      o.textContent = b;
      return o;
    }),
  );
  sel.value = all.includes(keep) ? keep : (all[0] ?? '');
}

function range() {
  const span = $('u-span').value;
  const [y, m, d] = ($('u-date').value || localDate(new Date())).split('-').map(Number);
  const from = new Date(y, m - 1, d);
  const to = new Date(from);
  if (span === 'week') {
    // The week holding the date, Monday first (as the timetables are).
    from.setDate(from.getDate() - ((from.getDay() + 6) % 7));
    to.setTime(from.getTime());
    to.setDate(to.getDate() + 7);
  } else {
    to.setDate(to.getDate() + 1);
  }
  return { from: from.getTime(), to: to.getTime(), bucket: span === 'week' ? 'day' : 'hour' };
}

function label(bucket, start) {
  const d = new Date(start);
  if (bucket === 'hour') return String(d.getHours()).padStart(2, '0');
  return d.toLocaleDateString(getLang(), { weekday: 'short', day: 'numeric' });
}

function cell(row) {
  const td = document.createElement('td');
  const minutes = (row.end - row.start) / 60_000;
  const share = minutes > 0 ? Math.min(1, row.occupiedMinutes / minutes) : 0;
  td.className = 'u-cell';
  td.style.setProperty('--share', share.toFixed(3));
  if (row.scheduledMinutes > 0) td.classList.add('u-scheduled');
  if (row.scheduledEmptyMinutes > 0) td.classList.add('u-empty');
  if (row.occupiedUnscheduledMinutes > 0) td.classList.add('u-unbooked');
  td.dataset.start = String(row.start);
  td.dataset.occupied = String(row.occupiedMinutes);
  td.dataset.scheduled = String(row.scheduledMinutes);
  td.textContent = row.peopleMean === null ? '' : String(Math.round(row.peopleMean));
  td.title = t('usage.cell', {
    room: row.name || row.room,
    when: new Date(row.start).toLocaleString(getLang()),
    scheduled: row.scheduledMinutes,
    occupied: row.occupiedMinutes,
    empty: row.scheduledEmptyMinutes,
    unbooked: row.occupiedUnscheduledMinutes,
    mean: row.peopleMean ?? '—',
  });
  return td;
}

function render(rows, bucket) {
  const table = $('u-table');
  const byRoom = new Map();
  const starts = [];
  for (const r of rows) {
    if (!byRoom.has(r.room)) byRoom.set(r.room, []);
    byRoom.get(r.room).push(r);
    if (byRoom.size === 1) starts.push(r.start);
  }
  const head = document.createElement('tr');
  const corner = document.createElement('th');
  corner.textContent = t('usage.room');
  head.append(corner);
  for (const s of starts) {
    const th = document.createElement('th');
    th.textContent = label(bucket, s);
    head.append(th);
  }
  const body = [...byRoom.values()].map((cells) => {
    const tr = document.createElement('tr');
    tr.dataset.room = cells[0].room;
    const th = document.createElement('th');
    th.textContent = cells[0].name || cells[0].room;
    th.title = cells[0].room;
    tr.append(th, ...cells.map(cell));
    return tr;
  });
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  tbody.append(...body);
  table.replaceChildren(thead, tbody);
  $('u-status').textContent = rows.length === 0 ? t('usage.empty') : '';
}

export async function loadUsage(reportError) {
  renderBuildings();
  const building = $('u-building').value;
  const { from, to, bucket } = range();
  const mine = ++loading;
  try {
    const q = new URLSearchParams({ from: String(from), to: String(to), bucket });
    if (building) q.set('building', building);
    const res = await api('GET', `/api/utilization?${q}`);
    if (mine !== loading) return;
    render(res.rows, bucket);
  } catch (err) {
    if (mine !== loading) return;
    $('u-status').textContent = t('usage.failed', { error: err.message ?? String(err) });
    reportError?.(err);
  }
}

export function bindUsage(reportError) {
  $('u-date').value = localDate(new Date());
  for (const id of ['u-building', 'u-date', 'u-span']) {
    $(id).addEventListener('change', () => void loadUsage(reportError));
  }
}

// Room detail: sources, open alarms, live audio level and video health charts (uPlot), a snapshot
// on request (the `snapshot` command), and the last telemetry.
import { alarmTypeLabel } from './alarms.js';
import { api, apiPages } from './api.js';
import { formatTime, getLang, sourceName, t } from './i18n.js';
import { roomAlarms, state } from './state.js';

const WINDOW_MS = 30 * 60_000;
const $ = (id) => document.getElementById(id);
let audio = null;
let video = null;
let people = null;
/** Capture windows of the open room, oldest first. */
let captures = [];

function li(cls, text) {
  const e = document.createElement('li');
  if (cls) e.className = cls;
  e.textContent = text;
  return e;
}

function chartWidth() {
  return Math.max(280, $('detail').clientWidth - 40);
}

function makeCharts() {
  destroyCharts();
  if (typeof uPlot !== 'function') return;
  const width = chartWidth();
  audio = new uPlot(
    {
      width,
      height: 150,
      scales: { x: { time: true }, y: { range: [-90, 0] } },
      series: [
        {},
        { label: t('series.rms'), stroke: '#2f7ed8', width: 1.5 },
        { label: t('series.peak'), stroke: '#a0a0a0', width: 1 },
      ],
    },
    [[], [], []],
    $('d-audio'),
  );
  video = new uPlot(
    {
      width,
      height: 150,
      scales: { x: { time: true }, y: { range: [0, 1] } },
      series: [
        {},
        { label: t('series.black'), stroke: '#222', width: 1.5 },
        { label: t('series.frozen'), stroke: '#d9534f', width: 1.5 },
        { label: t('series.motion'), stroke: '#5cb85c', width: 1 },
      ],
    },
    [[], [], [], []],
    $('d-video'),
  );
  people = new uPlot(
    {
      width,
      height: 150,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] } },
      series: [
        {},
        { label: t('series.people'), stroke: '#8e44ad', width: 1.5, fill: 'rgba(142,68,173,0.12)' },
        { label: t('series.peoplePeak'), stroke: '#c39bd3', width: 1 },
      ],
    },
    [[], [], []],
    $('d-people'),
  );
}

function destroyCharts() {
  audio?.destroy();
  video?.destroy();
  people?.destroy();
  audio = null;
  video = null;
  people = null;
}

function redrawCharts() {
  const cutoff = Date.now() - WINDOW_MS;
  captures = captures.filter((r) => r.end >= cutoff);
  const a = captures.filter((r) => r.audio);
  const v = captures.filter((r) => r.video);
  audio?.setData([a.map((r) => r.end / 1000), a.map((r) => r.audio.rmsDb), a.map((r) => r.audio.peakDb)]);
  // How many windows each chart draws, for people reading the page and for the browser tests.
  $('d-audio').dataset.points = String(a.length);
  $('d-video').dataset.points = String(v.length);
  // Windows with a people count (docs/hub-people.md "Occupancy").
  const p = captures.filter((r) => r.occupancy);
  $('d-people').dataset.points = String(p.length);
  $('d-people').dataset.last = p.length ? String(p.at(-1).occupancy.people) : '';
  people?.setData([
    p.map((r) => r.end / 1000),
    p.map((r) => r.occupancy.people),
    p.map((r) => r.occupancy.peak),
  ]);
  video?.setData([
    v.map((r) => r.end / 1000),
    v.map((r) => r.video.blackRatio),
    v.map((r) => r.video.frozenRatio),
    v.map((r) => r.video.motion),
  ]);
}

export function addCaptures(roomId, records) {
  if (roomId !== state.detailRoom) return;
  captures.push(...records);
  captures.sort((x, y) => x.end - y.end);
  redrawCharts();
}

export async function openDetail(roomId, stream) {
  state.detailRoom = roomId;
  captures = [];
  $('detail').hidden = false;
  $('d-img').hidden = true;
  $('d-snap-status').textContent = '';
  renderDetail();
  makeCharts();
  stream.subscribe([roomId]);
  void loadSchedule(roomId);
  $('d-chart-status').textContent = '';
  try {
    const from = Date.now() - WINDOW_MS;
    // The API pages at most 1,000 records (MAX_PAGE, docs/hub.md); a busy room's 30 minutes can be
    // more, so the cursor is followed until the window is complete.
    const records = await apiPages(
      `/api/records?room=${encodeURIComponent(roomId)}&kind=capture&from=${from}&limit=1000`,
      'records',
      () => state.detailRoom !== roomId,
    );
    if (state.detailRoom !== roomId) return;
    addCaptures(
      roomId,
      records.filter((r) => !r.historical || r.record.end >= from).map((r) => r.record),
    );
  } catch (err) {
    if (state.detailRoom !== roomId) return;
    $('d-chart-status').textContent = t('detail.chartsFailed', { error: err.message ?? String(err) });
    console.warn('loading the charts failed', err);
  }
}

let periods = [];

async function loadSchedule(roomId) {
  periods = [];
  renderSchedule();
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  try {
    const res = await api(
      'GET',
      `/api/rooms/${encodeURIComponent(roomId)}/schedule?from=${day.getTime()}&to=${day.getTime() + 86_400_000}`,
    );
    if (state.detailRoom !== roomId) return;
    periods = res.periods;
    renderSchedule();
  } catch (err) {
    console.error('loading the schedule failed', err);
  }
}

/** Called for a `precheck` stream message: refreshes the list if it is about the open room. */
export function onPrecheck(data) {
  if (data.room === state.detailRoom) void loadSchedule(data.room);
}

function hhmm(ms) {
  return new Date(ms).toLocaleTimeString(getLang(), { hour: '2-digit', minute: '2-digit', hour12: false });
}

function renderSchedule() {
  const items = periods.map((p) => {
    const notes = [];
    if (p.precheck) {
      notes.push(
        p.precheck.ok ? t('precheck.ok') : t('precheck.failed', { problems: p.precheck.problems.join('; ') }),
      );
    }
    if (p.startCheck && !p.startCheck.ok) notes.push(t('startcheck.failed'));
    const bad = (p.precheck && !p.precheck.ok) || (p.startCheck && !p.startCheck.ok);
    return li(
      bad ? 'period period-bad' : 'period',
      `${hhmm(p.start)}–${hhmm(p.end)} ${p.title}${notes.length ? ` · ${notes.join(' · ')}` : ''}`,
    );
  });
  $('d-schedule').replaceChildren(...(items.length ? items : [li('empty', t('detail.noClasses'))]));
}

export function closeDetail(stream) {
  state.detailRoom = null;
  $('detail').hidden = true;
  destroyCharts();
  stream.subscribe([]);
}

export function renderDetail() {
  const roomId = state.detailRoom;
  const entry = roomId ? state.rooms.get(roomId) : undefined;
  if (!entry) return;
  const r = entry.room;
  $('d-name').textContent = r.name || r.id;
  $('d-meta').textContent = [r.campus, r.building, r.floor && t('floor.label', { floor: r.floor }), r.id]
    .filter(Boolean)
    .join(' · ');
  const a = entry.agent;
  $('d-avail').textContent = a ? `${t(`avail.${a.availability}`)} (${a.agent})` : t('avail.unknown');
  $('d-sources').replaceChildren(
    ...(a?.sources ?? []).map((s) =>
      li(`source source-${s.status}`, `${sourceName(s)}: ${t(`source.${s.status}`)}`),
    ),
  );
  const alarms = roomAlarms(roomId);
  $('d-alarms').replaceChildren(
    ...(alarms.length
      ? alarms.map((al) =>
          li(
            `alarm-${al.state}`,
            `${alarmTypeLabel(al.type)}${al.source ? ` (${al.source})` : ''} · ${t(`alarmState.${al.state}`)} · ${formatTime(al.raisedAt)}`,
          ),
        )
      : [li('empty', t('detail.noAlarms'))]),
  );
  const cams = (a?.sources ?? []).filter((s) => s.kind === 'camera');
  const select = $('d-cam');
  const current = select.value;
  select.replaceChildren(
    ...cams.map((s) => {
      const o = document.createElement('option');
      o.value = s.id;
      o.textContent = sourceName(s);
      return o;
    }),
  );
  if (cams.some((s) => s.id === current)) select.value = current;
  $('d-snap').disabled = cams.length === 0 || a?.availability !== 'online';
  renderTelemetry(a);
  renderSchedule();
}

function renderTelemetry(a) {
  const dl = $('d-telemetry');
  const tel = a?.telemetry;
  if (!tel) {
    const p = document.createElement('dd');
    p.textContent = t('detail.noTelemetry');
    dl.replaceChildren(p);
    return;
  }
  const gib = (b) => `${(b / 1024 ** 3).toFixed(1)} GiB`;
  const rows = [
    ['tel.cpu', `${Math.round(tel.cpuLoad * 100)}%`],
    ['tel.mem', `${gib(tel.memUsedBytes)} / ${gib(tel.memTotalBytes)}`],
    ['tel.disk', `${gib(tel.diskFreeBytes)} / ${gib(tel.diskTotalBytes)}`],
    ['tel.temp', tel.temperatureC === null ? '—' : `${tel.temperatureC.toFixed(1)} °C`],
    ['tel.uptime', `${Math.round(tel.uptimeS / 60)} min`],
    ['tel.outbox', String(tel.outboxPending)],
    ['tel.seen', formatTime(a.lastSeen)],
  ];
  const frag = document.createDocumentFragment();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = t(k);
    const dd = document.createElement('dd');
    dd.textContent = v;
    frag.append(dt, dd);
  }
  dl.replaceChildren(frag);
}

export async function takeSnapshot() {
  const entry = state.rooms.get(state.detailRoom);
  const agent = entry?.agent?.agent;
  const source = $('d-cam').value;
  if (!agent || !source) return;
  const status = $('d-snap-status');
  status.textContent = t('detail.snapshotWaiting');
  $('d-snap').disabled = true;
  try {
    const { id } = await api('POST', `/api/agents/${encodeURIComponent(agent)}/commands`, {
      name: 'snapshot',
      args: { source },
      ttlS: 30,
    });
    const deadline = Date.now() + 35_000;
    while (Date.now() < deadline) {
      const cmd = await api('GET', `/api/commands/${encodeURIComponent(id)}`);
      if (cmd.status === 'ok' && typeof cmd.data?.jpeg === 'string') {
        const img = $('d-img');
        img.src = `data:image/jpeg;base64,${cmd.data.jpeg}`;
        img.alt = `${entry.room.name} ${source}`;
        img.hidden = false;
        status.textContent = formatTime(cmd.updatedAt);
        return;
      }
      if (cmd.status === 'error' || cmd.status === 'expired') throw new Error(cmd.error ?? cmd.status);
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error('timeout');
  } catch (err) {
    status.textContent = t('detail.snapshotFailed', { error: err.message ?? String(err) });
  } finally {
    $('d-snap').disabled = false;
  }
}

export function resizeCharts() {
  const w = chartWidth();
  audio?.setSize({ width: w, height: 150 });
  video?.setSize({ width: w, height: 150 });
  people?.setSize({ width: w, height: 150 });
}

export function relabelCharts() {
  if (state.detailRoom) {
    makeCharts();
    redrawCharts();
  }
}

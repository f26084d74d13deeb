// Open alarms (active and acknowledged), newest first, with an ack button.
import { api } from './api.js';
import { formatTime, t } from './i18n.js';
import { state, upsertAlarm } from './state.js';

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

export function alarmTypeLabel(type) {
  return t(`alarmType.${type}`);
}

export function roomName(roomId) {
  const e = roomId ? state.rooms.get(roomId) : undefined;
  return e ? e.room.name || e.room.id : (roomId ?? '—');
}

export function renderAlarms() {
  const rows = document.getElementById('alarm-rows');
  const list = [...state.alarms.values()].sort((a, b) => b.raisedAt - a.raisedAt);
  const frag = document.createDocumentFragment();
  for (const al of list) {
    const tr = document.createElement('tr');
    tr.className = `alarm alarm-${al.state}`;
    tr.dataset.alarm = al.id;
    tr.append(
      cell(formatTime(al.raisedAt)),
      cell(roomName(al.room)),
      cell(al.source ?? '—'),
      cell(alarmTypeLabel(al.type)),
      cell(
        al.state === 'acked' && al.ackedBy
          ? t('alarm.ackedBy', { who: al.ackedBy })
          : t(`alarmState.${al.state}`),
      ),
    );
    const action = document.createElement('td');
    if (al.state === 'active') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'ack';
      b.dataset.ack = al.id;
      b.textContent = t('alarm.ack');
      action.append(b);
    }
    tr.append(action);
    frag.append(tr);
  }
  rows.replaceChildren(frag);
  document.getElementById('alarms-empty').hidden = list.length > 0;
  const tab = document.querySelector('[data-view="alarms"]');
  const active = list.filter((a) => a.state === 'active').length;
  tab.textContent = active > 0 ? `${t('tab.alarms')} (${active})` : t('tab.alarms');
}

export async function ackAlarm(id, who) {
  const res = await api('POST', `/api/alarms/${encodeURIComponent(id)}/ack`, { who });
  upsertAlarm(res.alarm);
}

export function bindAlarms(onError) {
  document.body.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-ack]');
    if (!b) return;
    b.disabled = true;
    ackAlarm(b.dataset.ack, localStorage.getItem('classroom.hub.operator') || 'dashboard').catch((err) => {
      b.disabled = false;
      onError(err);
    });
  });
}

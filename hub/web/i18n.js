// zh-CN by default, English on request (DESIGN.md "Who uses it"; docs/hub-people.md "Dashboard"). Strings are only ever set with textContent.
const STRINGS = {
  'zh-CN': {
    title: '教室监控中心',
    'tab.rooms': '教室',
    'tab.alarms': '告警',
    logout: '退出',
    'conn.title': '实时连接',
    'conn.on': '实时',
    'conn.off': '已断开',
    'login.heading': '请输入管理令牌',
    'login.token': '管理令牌',
    'login.submit': '登录',
    'login.invalid': '令牌无效',
    'login.failed': '无法连接到服务器',
    'filter.status': '状态',
    'filter.all': '全部',
    'filter.building': '楼宇',
    'filter.attention': '需要处理',
    'filter.search': '搜索教室',
    'status.ok': '正常',
    'status.warn': '异常',
    'status.fault': '故障',
    'status.offline': '离线',
    'status.sleeping': '休眠',
    'status.unknown': '未知',
    'level.alarm': '告警',
    'level.acked': '告警已确认',
    'level.warn': '异常',
    'level.ok': '正常',
    'level.sleeping': '维护中',
    'level.unknown': '未知',
    'problem.offline': '离线',
    'problem.down': '断流',
    'problem.black': '黑屏',
    'problem.frozen': '画面冻结',
    'problem.silent': '静音',
    'problem.no-capture': '上课无采集',
    'problem.precheck': '课前检查未通过',
    'problem.disk': '磁盘不足',
    'problem.maintenance': '维护中',
    'problem.unknown': '未知',
    'tile.classNow': '正在上课:',
    'header.online': '在线 {online} / {total} 间',
    'header.alarms': '未关闭告警 {open} 条 (未确认 {active})',
    'header.classes': '今日课程正常采集 {pct}% ({healthy}/{counted})',
    'header.noClasses': '今日暂无已开始的课程',
    'header.classesTitle':
      '已开始至少 5 分钟的今日课程中, 已过课时至少 80% 画面正常 (非黑屏、非冻结) 且有声音的课程所占比例',
    'avail.online': '在线',
    'avail.offline': '已停止',
    'avail.lost': '失联',
    'avail.sleeping': '休眠',
    'avail.unknown': '未知',
    'source.ok': '正常',
    'source.black': '黑屏',
    'source.frozen': '画面冻结',
    'source.silent': '静音',
    'source.down': '断流',
    'source.unknown': '未知',
    'kind.camera': '摄像头',
    'kind.microphone': '麦克风',
    'floor.label': '{floor} 层',
    counts: '显示 {shown} / {total} 间教室',
    'alarm.time': '时间',
    'alarm.room': '教室',
    'alarm.source': '来源',
    'alarm.type': '类型',
    'alarm.state': '状态',
    'alarm.ack': '确认',
    'alarm.none': '没有未处理的告警',
    'alarm.ackedBy': '已由 {who} 确认',
    'alarmState.active': '未确认',
    'alarmState.acked': '已确认',
    'alarmState.cleared': '已恢复',
    'alarmType.agent.offline': '终端离线',
    'alarmType.agent.room_mismatch': '终端上报的教室与登记不符',
    'alarmType.source.down': '设备断开',
    'alarmType.video.black': '黑屏',
    'alarmType.video.frozen': '画面冻结',
    'alarmType.audio.silent': '麦克风无声',
    'alarmType.disk.low': '磁盘空间不足',
    'alarmType.schedule.no-capture': '上课无采集',
    'alarmType.schedule.precheck': '课前检查未通过',
    'detail.close': '关闭',
    'detail.availability': '在线状态',
    'detail.sources': '设备',
    'detail.alarms': '告警',
    'detail.audio': '音频电平 (dB)',
    'detail.schedule': '今日课表',
    'detail.noClasses': '今日无课',
    'precheck.ok': '课前检查通过',
    'precheck.failed': '课前检查未通过: {problems}',
    'startcheck.failed': '开课 5 分钟内无有效采集',
    'detail.video': '视频状况',
    'detail.chartsFailed': '图表数据加载失败: {error}',
    'detail.snapshot': '快照',
    'detail.takeSnapshot': '获取快照',
    'detail.snapshotWaiting': '等待终端响应…',
    'detail.snapshotFailed': '快照失败: {error}',
    'detail.telemetry': '遥测',
    'detail.noAlarms': '无',
    'detail.noTelemetry': '暂无遥测数据',
    'tel.cpu': 'CPU 负载',
    'tel.mem': '内存',
    'tel.disk': '磁盘可用',
    'tel.temp': '温度',
    'tel.uptime': '运行时间',
    'tel.outbox': '待发送记录',
    'tel.seen': '最后通信',
    'series.rms': '平均电平',
    'series.peak': '峰值',
    'series.black': '黑屏比例',
    'series.frozen': '冻结比例',
    'series.motion': '运动量',
  },
  en: {
    title: 'Classroom Monitoring',
    'tab.rooms': 'Rooms',
    'tab.alarms': 'Alarms',
    logout: 'Log out',
    'conn.title': 'Live connection',
    'conn.on': 'Live',
    'conn.off': 'Disconnected',
    'login.heading': 'Enter the admin token',
    'login.token': 'Admin token',
    'login.submit': 'Log in',
    'login.invalid': 'Invalid token',
    'login.failed': 'Cannot reach the hub',
    'filter.status': 'Status',
    'filter.all': 'All',
    'filter.building': 'Building',
    'filter.attention': 'Needs attention',
    'filter.search': 'Search rooms',
    'status.ok': 'OK',
    'status.warn': 'Degraded',
    'status.fault': 'Fault',
    'status.offline': 'Offline',
    'status.sleeping': 'Sleeping',
    'status.unknown': 'Unknown',
    'level.alarm': 'Alarm',
    'level.acked': 'Alarm acknowledged',
    'level.warn': 'Degraded',
    'level.ok': 'OK',
    'level.sleeping': 'Maintenance',
    'level.unknown': 'Unknown',
    'problem.offline': 'Offline',
    'problem.down': 'No stream',
    'problem.black': 'Black picture',
    'problem.frozen': 'Frozen picture',
    'problem.silent': 'Silent',
    'problem.no-capture': 'No capture in class',
    'problem.precheck': 'Pre-class check failed',
    'problem.disk': 'Disk low',
    'problem.maintenance': 'Maintenance',
    'problem.unknown': 'Unknown',
    'tile.classNow': 'In class:',
    'header.online': '{online} of {total} rooms online',
    'header.alarms': '{open} open alarms ({active} unacknowledged)',
    'header.classes': 'Today’s classes captured healthily: {pct}% ({healthy}/{counted})',
    'header.noClasses': 'No class has started yet today',
    'header.classesTitle':
      'Of today’s classes that started at least 5 minutes ago, the share whose elapsed time so far had a good picture (neither black nor frozen) and sound for at least 80 %',
    'avail.online': 'Online',
    'avail.offline': 'Stopped',
    'avail.lost': 'Lost',
    'avail.sleeping': 'Sleeping',
    'avail.unknown': 'Unknown',
    'source.ok': 'OK',
    'source.black': 'Black',
    'source.frozen': 'Frozen',
    'source.silent': 'Silent',
    'source.down': 'Down',
    'source.unknown': 'Unknown',
    'kind.camera': 'Camera',
    'kind.microphone': 'Microphone',
    'floor.label': 'Floor {floor}',
    counts: 'Showing {shown} of {total} rooms',
    'alarm.time': 'Time',
    'alarm.room': 'Room',
    'alarm.source': 'Source',
    'alarm.type': 'Type',
    'alarm.state': 'State',
    'alarm.ack': 'Acknowledge',
    'alarm.none': 'No open alarms',
    'alarm.ackedBy': 'Acknowledged by {who}',
    'alarmState.active': 'Active',
    'alarmState.acked': 'Acknowledged',
    'alarmState.cleared': 'Cleared',
    'alarmType.agent.offline': 'Box offline',
    'alarmType.agent.room_mismatch': 'Box reports another room than provisioned',
    'alarmType.source.down': 'Source down',
    'alarmType.video.black': 'Black video',
    'alarmType.video.frozen': 'Frozen video',
    'alarmType.audio.silent': 'Silent microphone',
    'alarmType.disk.low': 'Disk low',
    'alarmType.schedule.no-capture': 'Class without capture',
    'alarmType.schedule.precheck': 'Pre-class check failed',
    'detail.close': 'Close',
    'detail.availability': 'Availability',
    'detail.sources': 'Sources',
    'detail.alarms': 'Alarms',
    'detail.audio': 'Audio level (dB)',
    'detail.schedule': 'Today’s classes',
    'detail.noClasses': 'No classes today',
    'precheck.ok': 'Pre-class check passed',
    'precheck.failed': 'Pre-class check failed: {problems}',
    'startcheck.failed': 'No healthy capture in the first 5 minutes',
    'detail.video': 'Video health',
    'detail.chartsFailed': 'Loading the chart data failed: {error}',
    'detail.snapshot': 'Snapshot',
    'detail.takeSnapshot': 'Take snapshot',
    'detail.snapshotWaiting': 'Waiting for the box…',
    'detail.snapshotFailed': 'Snapshot failed: {error}',
    'detail.telemetry': 'Telemetry',
    'detail.noAlarms': 'None',
    'detail.noTelemetry': 'No telemetry yet',
    'tel.cpu': 'CPU load',
    'tel.mem': 'Memory',
    'tel.disk': 'Disk free',
    'tel.temp': 'Temperature',
    'tel.uptime': 'Uptime',
    'tel.outbox': 'Outbox pending',
    'tel.seen': 'Last seen',
    'series.rms': 'RMS',
    'series.peak': 'Peak',
    'series.black': 'Black ratio',
    'series.frozen': 'Frozen ratio',
    'series.motion': 'Motion',
  },
};

export const LANGS = ['zh-CN', 'en'];
let lang = 'zh-CN';

export function setLang(l) {
  lang = LANGS.includes(l) ? l : 'zh-CN';
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

export function t(key, vars) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Applies the static strings of the page (data-i18n, data-i18n-placeholder, data-i18n-title). */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]'))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  document.title = t('title');
}

export function formatTime(ms) {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(lang, { hour12: false });
}

const KIND_WORDS = new Set(['camera', 'cam', 'microphone', 'mic', '摄像头', '麦克风']);

/**
 * A source's display name: its label, or the translated kind when the label is empty, the id, or just
 * a kind word ("Camera"), so lists never read "摄像头 Camera".
 */
export function sourceName(s) {
  const label = (s.label ?? '').trim();
  if (!label || label === s.id || KIND_WORDS.has(label.toLowerCase())) return t(`kind.${s.kind}`);
  return label;
}

/** Lets a page module bring its own strings ({ 'zh-CN': {…}, en: {…} }) without editing this table. */
export function addStrings(extra) {
  for (const l of LANGS) Object.assign(STRINGS[l], extra[l] ?? {});
}

// Chinese and English labels, colours and small formatters shared by the pages.

import { config } from "./session.js";

const CONFIG = config();

export const UNIT_STATUS = {
  available: ["空闲", "Available", "#22c55e"],
  returning: ["返回中", "Returning", "#14b8a6"],
  offered: ["待确认", "Offered", "#f59e0b"],
  en_route: ["出警途中", "En route", "#3b82f6"],
  on_scene: ["到场处置", "On scene", "#c026d3"],
  transporting: ["转运中", "Transporting", "#ec4899"],
  off_duty: ["下班", "Off duty", "#6b7280"],
  out_of_service: ["停用", "Out of service", "#475569"],
};

export const INCIDENT_STATUS = {
  received: ["已接警", "Received"],
  awaiting_confirmation: ["待确认派警", "Awaiting confirmation"],
  pending: ["无警力待派", "Pending: no unit"],
  dispatched: ["已派警", "Dispatched"],
  on_scene: ["到场", "On scene"],
  cleared: ["处置完毕", "Cleared"],
  case: ["网格事件", "Grid case"],
  closed: ["已结案", "Closed"],
};

export const ASSIGNMENT_STATUS = {
  offered: ["待接受", "Offered"],
  accepted: ["已接受", "Accepted"],
  en_route: ["途中", "En route"],
  on_scene: ["到场", "On scene"],
  cleared: ["完毕", "Cleared"],
  declined: ["拒绝", "Declined"],
  timed_out: ["超时未应答", "Timed out"],
  cancelled: ["已取消", "Cancelled"],
};

export const PRIORITY_COLOUR = { 1: "#ef4444", 2: "#f97316", 3: "#eab308", 4: "#38bdf8" };
export const PRIORITY = { 1: ["特急", "Critical"], 2: ["紧急", "Urgent"], 3: ["一般", "Routine"], 4: ["非紧急", "Low"] };

export const REASONS = {
  nearest_by_travel_time: ["最近（行程时间）", "nearest by travel time"],
  nearest_by_road: ["最近（道路行程）", "nearest by road"],
  straight_line_unit_off_road: ["警力不在路网上，按直线估算", "unit off the road network: straight line"],
  straight_line_scene_off_road: ["现场不在路网上，按直线估算", "scene off the road network: straight line"],
  straight_line_no_road_between: ["无可达道路，按直线估算", "no road between: straight line"],
  straight_line_roads_not_loaded: ["路网未加载，按直线估算", "roads not loaded: straight line"],
  nearer_unit_needed_for_another_requirement: ["更近警力另有任务", "nearer unit needed elsewhere"],
  next_tier_tier_short: ["上一层级不足", "next tier: tier short"],
  has_required_capabilities: ["具备所需能力", "has the capabilities"],
  outside_home_zone: ["辖区外", "outside home zone"],
  stale_position_penalised: ["位置过期", "stale position"],
  only_one_of_its_kind_left: ["同类仅剩一个", "only one of its kind left"],
  dispatcher_choice: ["调度员指定", "dispatcher's choice"],
  joint_assignment_in_surge: ["联合调派", "joint assignment"],
};

export const SHORTFALLS = {
  no_unit_of_kind: ["无此类警力", "no unit of this kind"],
  all_of_kind_busy: ["同类警力全忙", "all of this kind busy"],
  no_unit_with_capabilities: ["无具备能力的警力", "no unit with the capabilities"],
  all_tiers_exhausted: ["各层级均不足", "all tiers exhausted"],
  only_stale_positions: ["仅有过期位置", "only stale positions"],
  none_within_max_distance: ["范围内无警力", "none within reach"],
  needed_for_another_requirement: ["另有需要", "needed for another requirement"],
  cannot_dispatch: ["无法自动派警，请人工派警", "cannot be dispatched automatically: send a unit by hand"],
};

export const EVENTS = {
  "incident.created": ["新警情", "New incident"],
  "alert.linked": ["关联报警", "Related call linked"],
  "alert.unlinked": ["拆分报警", "Call unlinked"],
  "alert.attachment_added": ["新增附件", "Attachment added"],
  "incident.awaiting_confirmation": ["待确认派警", "Awaiting confirmation"],
  "incident.pending": ["无警力可派", "Nobody can serve"],
  "incident.closed": ["结案", "Closed"],
  "incident.updated": ["警情更新", "Incident updated"],
  "incident.merged": ["合并", "Merged"],
  "incident.merged_in": ["并入", "Merged in"],
  "assignment.offered": ["派警", "Offered"],
  "assignment.accepted": ["接受", "Accepted"],
  "assignment.en_route": ["出发", "En route"],
  "assignment.declined": ["拒绝", "Declined"],
  "assignment.timed_out": ["超时未应答", "Offer timed out"],
  "assignment.cancelled": ["取消", "Cancelled"],
  "assignment.on_scene": ["到场", "Arrived"],
  "assignment.cleared": ["处置完毕", "Cleared"],
  "unit.status_changed": ["状态变更", "Status"],
  "unit.registered": ["新增警力", "Unit added"],
  "unit.retired": ["警力撤编", "Unit retired"],
  "unit.changed": ["警力信息变更", "Unit changed"],
  "unit.tracker_issued": ["发放定位令牌", "Tracker token issued"],
  "unit.panic": ["警员紧急求助", "Officer needs help"],
  "unit.panic_acknowledged": ["求助已确认", "Panic acknowledged"],
  "unit.panic_cancelled": ["求助已取消", "Panic cancelled"],
  "case.opened": ["网格事件", "Grid case"],
  "case.reported": ["事件上报", "Case reported"],
  "case.accepted": ["事件受理", "Case accepted"],
  "case.assigned": ["事件派单", "Case assigned"],
  "case.in_progress": ["事件处置中", "Case in progress"],
  "case.resolved": ["事件办结", "Case resolved"],
  "case.verified": ["事件核实", "Case verified"],
  "case.closed": ["事件结案", "Case closed"],
  "case.returned": ["事件退回", "Case returned"],
  "case.supervised": ["事件督办", "Case supervised"],
  "case.reminder": ["期限过半提醒", "Case: half the time gone"],
  "case.warning": ["期限预警", "Case: deadline near"],
  "case.escalated": ["事件升级", "Case escalated"],
  "case.overdue": ["事件逾期", "Case overdue"],
};

// the console's replay player (console-replay.js): its controls and the marks it puts on the map
export const REPLAY = {
  title: ["回放", "Replay"],
  play: ["播放", "Play"],
  pause: ["暂停", "Pause"],
  speed: ["倍速", "Speed"],
  close: ["关闭回放", "Close replay"],
  time: ["回放时间", "Replay time"],
  offered: ["派警", "Offered"],
  on_scene: ["到场", "Arrived"],
  empty: ["无定位记录", "No stored positions"],
};

// the reports page (reports*.js): periods, groupings, sections, buttons and the shift report's headings
export const REPORTS = {
  today: ["今天", "Today"],
  yesterday: ["昨天", "Yesterday"],
  last7: ["近7天", "Last 7 days"],
  month: ["本月", "This month"],
  last30: ["近30天", "Last 30 days"],
  all: ["合计", "All"],
  category: ["警情类别", "Category"],
  priority: ["优先级", "Priority"],
  zone: ["辖区", "Zone"],
  hour: ["时段", "Hour of day"],
  day: ["日期", "Day"],
  unit_kind: ["警力类型", "Unit kind"],
  response: ["响应时间", "Response times"],
  offers: ["派警指令", "Offers"],
  cases: ["网格事件", "Grid cases"],
  shifts: ["交班报告", "Shift reports"],
  csv: ["导出 CSV", "CSV"],
  xlsx: ["导出 XLSX", "XLSX"],
  loading: ["加载中", "Loading"],
  empty: ["该时段无数据", "Nothing in this period"],
  truncated: ["分组过多，只列出前面的分组", "More groups than a table holds: the rest are left out"],
  refused: ["你的角色不能查看报表", "Your role may not read reports"],
  failed: ["报表未能加载", "The report could not be loaded"],
  times_chart: ["响应用时（分钟）", "Response times (minutes)"],
  targets_chart: ["达标率", "Within target"],
  no_charts: ["图表库未安装，只显示表格", "The charting library is not installed: tables only"],
  no_zone: ["无辖区", "no zone"],
  shift: ["班次", "Shift"],
  made_at: ["生成于", "Made at"],
  open: ["查看", "Open"],
  print: ["打印", "Print"],
  close: ["关闭", "Close"],
  counts: ["数量", "Counts"],
  by_priority: ["按优先级", "By priority"],
  worst: ["响应最慢的警情", "Worst response times"],
  overdue: ["超期未结的网格事件", "Overdue grid cases"],
  stale: ["位置过期的警力", "Units that went stale"],
  none: ["无", "None"],
  incident: ["警情", "Incident"],
  incidents: ["警情数", "Incidents"],
  arrive_p90: ["到场 P90", "On scene p90"],
  received: ["接警时间", "Received"],
  to_dispatch: ["派警用时", "To dispatch"],
  to_scene: ["到场用时", "To scene"],
  status: ["状态", "Status"],
  town: ["街镇", "Town"],
  deadline: ["期限", "Deadline"],
  callsign: ["呼号", "Callsign"],
  last_fix: ["最后定位", "Last fix"],
  never: ["从未定位", "never"],
};

// the panic button: on the unit page (unit-panic.js), the console and the wall (panic-alarm.js)
export const PANIC = {
  hold: ["长按2秒 紧急求助", "Hold 2 s: emergency"],
  holding: ["继续按住…", "Keep holding…"],
  sending: ["正在发送求助…", "Sending the alarm…"],
  raised: ["求助已发出，等待指挥中心确认", "Help requested: waiting for the center"],
  acknowledged: ["指挥中心已收到求助", "The center has your alarm"],
  failed: ["求助未发出，请重试", "The alarm was not sent: try again"],
  cancel: ["取消求助", "Cancel the alarm"],
  confirm: ["确定取消紧急求助？", "Really cancel the emergency alarm?"],
  title: ["警员紧急求助", "Officer needs help"],
  acknowledge: ["确认收到", "Acknowledge"],
  seen: ["已确认", "Acknowledged"],
  follow: ["跟踪", "Follow"],
  no_fix: ["无位置", "no position"],
};

// "中文 English" as two spans (styled by .zh / .en)
export function bi(pair, fallback = "") {
  const [zh, en] = pair || [fallback, ""];
  const span = document.createElement("span");
  span.className = "bi";
  const a = document.createElement("span");
  a.className = "zh";
  a.textContent = zh;
  const b = document.createElement("span");
  b.className = "en";
  b.textContent = en;
  span.append(a, b);
  return span;
}

export function text(pair, fallback = "") {
  return pair ? `${pair[0]} ${pair[1]}` : fallback;
}

export function kindLabel(code) {
  const k = CONFIG.kinds && CONFIG.kinds[code];
  return k ? [k.zh, k.en] : [code, ""];
}

export function categoryLabel(code) {
  const c = CONFIG.categories && CONFIG.categories[code];
  return c ? [c.zh, c.en] : [code, ""];
}

export function staleAfter(kind) {
  const k = CONFIG.kinds && CONFIG.kinds[kind];
  return k ? k.stale_after_s : 120;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  if (m >= 60) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}`;
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function clock(iso) {
  if (!iso) return "–";
  const d = typeof iso === "number" ? new Date(iso * 1000) : new Date(iso);
  return d.toLocaleTimeString("zh-CN", { hour12: false });
}

export function metres(m) {
  if (m === null || m === undefined) return "–";
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// a short beep with the Web Audio API; `pattern` is a list of [frequency Hz, milliseconds]
let audio = null;
export function audioContext() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = new Ctx();
  }
  return audio;
}

export function beep(pattern = [[880, 180], [0, 80], [880, 180]]) {
  const ctx = audioContext();
  if (!ctx) return false;
  if (ctx.state === "suspended") ctx.resume();
  let t = ctx.currentTime + 0.02;
  for (const [hz, ms] of pattern) {
    if (hz > 0) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + ms / 1000);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + ms / 1000 + 0.02);
    }
    t += ms / 1000;
  }
  return ctx.state === "running";
}

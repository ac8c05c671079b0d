// /wall: the big screen. Read-only; everything comes from /ws/ops (snapshot, then deltas).

import { OpsFeed } from "./ops.js";
import { Picture } from "./picture.js";
import { OpsMap, hasLeaflet } from "./map.js";
import { PanicAlarm } from "./panic-alarm.js";
import { api, config, logout, requireLogin, whoami } from "./session.js";
import {
  EVENTS, PRIORITY, PRIORITY_COLOUR, UNIT_STATUS, bi, categoryLabel, clock, duration, el, kindLabel,
} from "./labels.js";

const cfg = config();
const picture = new Picture();
const $ = (sel) => document.querySelector(sel);
const kpi = (name) => document.querySelector(`[data-kpi="${name}"]`);
const SHOWN_EVENTS = /^(incident\.|assignment\.|alert\.|case\.|unit\.panic)/;
let map = null;
let panic = null;
let renderTimer = null;
const events = [];

function setConn(state) {
  const node = $("#conn");
  node.dataset.state = state;
  const words = {
    connecting: ["连接中", "connecting"], live: ["实时", "live"], offline: ["已断开 重连中", "offline, reconnecting"],
    refused: ["被拒绝", "refused"],
  }[state] || [state, ""];
  node.replaceChildren(bi(words));
}

function scheduleRender(fit = false) {
  if (fit && map) map.reset();
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = null;
    render();
  }, 150);
}

function render() {
  if (map) {
    map.render(picture);
    map.fit(picture);
    panic.follow(map); // last: an officer in trouble keeps the view
  }
  renderKpi();
  document.body.dataset.units = picture.units.size;
  document.body.dataset.incidents = picture.incidents.size;
}

function renderKpi() {
  const k = picture.kpi();
  kpi("open-total").textContent = k.openTotal;
  kpi("open-by-priority").replaceChildren(
    ...[1, 2, 3, 4].map((p) =>
      el("span", { class: "chip", style: `--c:${PRIORITY_COLOUR[p]}`, title: PRIORITY[p].join(" ") }, `P${p} `, el("b", {}, k.open[p] || 0)),
    ),
  );
  const unserved = kpi("unserved");
  unserved.textContent = k.unserved;
  unserved.closest(".tile").classList.toggle("alarm", k.unserved > 0);
  kpi("dispatch-p50").textContent = duration(k.dispatch.p50);
  kpi("dispatch-p90").textContent = duration(k.dispatch.p90);
  kpi("arrive-p50").textContent = duration(k.arrive.p50);
  kpi("arrive-p90").textContent = duration(k.arrive.p90);
  const pct = (v) => (v === null ? "–" : `${Math.round(v * 100)}%`);
  kpi("within-3").textContent = pct(k.within3);
  kpi("within-5").textContent = pct(k.within5);
  kpi("arrive-n").textContent = k.arrive.n ? `(${k.arrive.n} 起 arrivals, ${Math.round(picture.windowS / 3600)} h)` : "";
  const towns = Object.entries(k.overdueByTown).sort((a, b) => b[1] - a[1]);
  const overdue = towns.reduce((s, [, n]) => s + n, 0);
  kpi("overdue-total").textContent = overdue;
  kpi("overdue-total").closest(".tile").classList.toggle("warn", overdue > 0);
  kpi("overdue-by-town").replaceChildren(...towns.slice(0, 4).map(([town, n]) => el("li", {}, el("span", {}, town), el("b", {}, n))));
  const kinds = Object.entries(k.byKind).sort((a, b) => b[1].available + b[1].committed - (a[1].available + a[1].committed));
  kpi("units-by-kind").replaceChildren(
    ...kinds.map(([kind, c]) =>
      el("div", { class: "kind", dataset: { kind } },
        el("span", { class: "name" }, bi(kindLabel(kind))),
        el("b", { class: "available", title: "空闲 available" }, c.available),
        el("b", { class: "committed", title: "在勤 committed" }, c.committed)),
    ),
  );
}

function addEvent(ev) {
  if (!SHOWN_EVENTS.test(ev.kind || "")) return;
  const d = ev.data || {};
  const incident = ev.incident_id ? picture.incidents.get(ev.incident_id) : null;
  const category = d.category || (d.incident && d.incident.category) || (incident && incident.category);
  const priority = d.priority || (d.incident && d.incident.priority) || (incident && incident.priority);
  const item = el("li", { class: `ev ${ev.kind.replace(/\./g, "-")}${d.alarm ? " alarm" : ""}` },
    el("time", {}, clock(ev.at)),
    priority ? el("span", { class: "chip", style: `--c:${PRIORITY_COLOUR[priority]}` }, `P${priority}`) : null,
    bi(EVENTS[ev.kind], ev.kind),
    ev.incident_id ? el("span", { class: "ref" }, `#${ev.incident_id}`) : null,
    category ? el("span", { class: "cat" }, categoryLabel(category)[0]) : null,
    d.callsign ? el("span", { class: "callsign" }, d.callsign) : null);
  events.unshift(item);
  events.length = Math.min(events.length, 8);
  $("#events").replaceChildren(...events);
}

function legend() {
  const node = $("#legend");
  const statuses = ["available", "offered", "en_route", "on_scene", "transporting", "off_duty"];
  node.append(
    ...statuses.map((s) => el("span", { class: "key" }, el("i", { style: `background:${UNIT_STATUS[s][2]}` }), UNIT_STATUS[s][0], el("small", {}, UNIT_STATUS[s][1]))),
    el("span", { class: "key" }, el("i", { class: "stale" }), "位置过期", el("small", {}, "stale")),
    ...[1, 2, 3, 4].map((p) => el("span", { class: "key" }, el("i", { class: "diamond", style: `background:${PRIORITY_COLOUR[p]}` }), `P${p}`, el("small", {}, PRIORITY[p][1]))),
  );
}

// years with no holiday data in the working-day calendar: grid-case deadlines count them as plain
// Monday to Friday until an operator adds them; the wall says so until then
function renderCalendar(calendar) {
  const node = $("#calendar-alarm");
  const missing = (calendar && calendar.missing_years) || [];
  node.hidden = missing.length === 0;
  node.dataset.missing = missing.join(",");
  node.replaceChildren(
    el("span", { class: "zh" }, `⚠ 工作日历缺少 ${missing.join("、")} 年节假日数据，网格案件期限暂按周一至周五计算`),
    el("span", { class: "en" }, `working-day calendar: no holiday data for ${missing.join(", ")} (known until ${(calendar && calendar.known_until) || "-"})`),
  );
}

async function refreshOverdue() {
  try {
    picture.overdueByTown = await api("GET", "/api/v1/cases/overdue");
    scheduleRender();
  } catch {
    // the snapshot's figure stays; the next try may work
  }
}

async function main() {
  const tick = () => ($("#clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false }));
  tick();
  setInterval(tick, 1000);
  const { token, claims } = await requireLogin({
    roles: ["display", "dispatcher", "call_taker"],
    title: "指挥中心大屏 · Wall screen",
  });
  whoami($("#who"), claims);
  panic = new PanicAlarm($("#panics"));
  legend();
  if (hasLeaflet()) {
    map = new OpsMap($("#map"), cfg, { labels: true, heat: true });
  } else {
    const note = $("#map-note");
    note.hidden = false;
    note.textContent = "地图库未安装：请运行 ./run up · The map library is not installed: run ./run up (npm ci in web/static)";
  }
  new OpsFeed({
    token,
    onSnapshot: (state) => {
      picture.load(state);
      panic.load(state.panics);
      renderCalendar(state.calendar);
      scheduleRender(true);
    },
    onEvent: (ev) => {
      addEvent(ev); // first: a closing incident is still known, with its category and priority
      picture.apply(ev);
      panic.apply(ev);
      scheduleRender();
    },
    onStatus: setConn,
    onAuthFailed: (reason) => {
      setConn("refused");
      if (/expired|invalid|signature/i.test(reason)) logout();
    },
  }).start();
  setInterval(render, 5000); // stale marks and windows move with the clock
  setInterval(refreshOverdue, 60000);
}

main();

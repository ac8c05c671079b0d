// /console: the dispatcher's queue, the recommendation confirmed in one click, overrides, reassignments,
// related calls, closing, the timeline, and alarms for timed-out offers and incidents nobody can serve.

import { OpsFeed } from "./ops.js";
import { Picture, UNSERVED } from "./picture.js";
import { OpsMap, hasLeaflet } from "./map.js";
import { api, config, logout, requireLogin, whoami } from "./session.js";
import {
  ASSIGNMENT_STATUS, EVENTS, INCIDENT_STATUS, PRIORITY_COLOUR, REASONS, SHORTFALLS, audioContext, beep,
  bi, categoryLabel, clock, duration, el, kindLabel, metres, text,
} from "./labels.js";

const cfg = config();
const picture = new Picture();
const $ = (sel) => document.querySelector(sel);
let map = null;
let selected = null; // incident id
let detail = null; // GET /incidents/{id}
let recommendation = null; // GET /incidents/{id}/recommendation, or {error}
let canDispatch = false;
const alarms = new Map(); // key -> {key, kind, incidentId, text, at}
const timers = {};

function later(name, fn, ms) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(fn, ms);
}

function setConn(state) {
  const words = {
    connecting: ["连接中", "connecting"], live: ["实时", "live"], offline: ["已断开 重连中", "offline, reconnecting"],
    refused: ["被拒绝", "refused"],
  }[state] || [state, ""];
  $("#conn").dataset.state = state;
  $("#conn").replaceChildren(bi(words));
}

function distanceM(a, b) {
  const r = 6371000;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

function unitName(id) {
  const u = picture.units.get(id);
  return u ? u.callsign : `#${id}`;
}

function statusChip(pair, cls) {
  return el("span", { class: `status ${cls}` }, bi(pair));
}

// ---- the queue -------------------------------------------------------------------------------------

function renderQueue() {
  const items = picture.queue();
  $("#queue-count").textContent = `${items.filter((i) => UNSERVED.has(i.status)).length} / ${items.length}`;
  $("#queue").replaceChildren(
    ...items.map((i) =>
      el("li", {
        class: `q${UNSERVED.has(i.status) ? " unserved" : ""}${i.id === selected ? " selected" : ""} s-${i.status}`,
        dataset: { incident: i.id, status: i.status },
        onclick: () => select(i.id),
      },
      el("span", { class: "prio", style: `--c:${PRIORITY_COLOUR[i.priority]}` }, `P${i.priority}`),
      el("span", { class: "what" },
        el("b", {}, `#${i.id} `, categoryLabel(i.category)[0]),
        el("small", {}, categoryLabel(i.category)[1]),
        el("span", { class: "addr" }, i.address || "")),
      el("span", { class: "side" },
        statusChip(INCIDENT_STATUS[i.status] || [i.status, ""], `s-${i.status}`),
        el("time", { dataset: { since: (i.times && i.times.received_at) || "" } }, ""))),
    ),
  );
  tickAges();
}

function tickAges() {
  const now = Date.now();
  for (const node of document.querySelectorAll("[data-since]")) {
    if (node.dataset.since) node.textContent = duration((now - Date.parse(node.dataset.since)) / 1000);
  }
  for (const node of document.querySelectorAll("[data-deadline]")) {
    const left = (Date.parse(node.dataset.deadline) - now) / 1000;
    node.textContent = ` 剩 ${left > 0 ? duration(left) : "0:00"} left`;
    node.classList.toggle("late", left < 10);
  }
}

// ---- alarms ----------------------------------------------------------------------------------------

function alarm(key, kind, incidentId, words) {
  if (alarms.has(key)) return;
  alarms.set(key, { key, kind, incidentId, words, at: new Date().toISOString() });
  renderAlarms();
  beep([[988, 160], [0, 60], [740, 160], [0, 60], [988, 220]]);
}

function renderAlarms() {
  // an incident waiting for a unit stops alarming once a unit is on it
  for (const [key, a] of alarms) {
    const i = picture.incidents.get(a.incidentId);
    if (a.kind === "pending" && (!i || i.status !== "pending")) alarms.delete(key);
  }
  $("#alarms").replaceChildren(
    ...[...alarms.values()].map((a) =>
      el("div", { class: `alarm ${a.kind}`, role: "alert", dataset: { alarm: a.kind, incident: a.incidentId } },
        el("span", { class: "icon" }, "⚠"),
        el("time", {}, clock(a.at)),
        a.incidentId != null && el("button", { class: "link", onclick: () => select(a.incidentId) }, `#${a.incidentId}`),
        bi(a.words),
        el("button", { class: "quiet", title: "知道了 Acknowledge", onclick: () => { alarms.delete(a.key); renderAlarms(); } }, "✕")),
    ),
  );
}

// years with no holiday data in the working-day calendar (from the snapshot): grid-case deadlines count
// their holidays as working days until an operator adds them (DISPATCH_WORKDAYS_FILE)
function calendarAlarm(calendar) {
  const missing = (calendar && calendar.missing_years) || [];
  const key = `calendar:${missing.join(",")}`;
  for (const k of alarms.keys()) if (k.startsWith("calendar:") && k !== key) alarms.delete(k);
  if (!missing.length) return;
  alarm(key, "calendar", null, [
    `工作日历缺少 ${missing.join("、")} 年节假日数据，网格案件期限暂按周一至周五计算`,
    `working-day calendar: no holiday data for ${missing.join(", ")} (known until ${calendar.known_until || "-"}); ` +
      "grid-case deadlines count those years as plain Monday to Friday until it is added (DISPATCH_WORKDAYS_FILE)",
  ]);
}

function alarmsFrom(ev) {
  const d = ev.data || {};
  if (ev.kind === "assignment.timed_out" && d.alarm) {
    alarm(`timeout:${ev.assignment_id}`, "timeout", ev.incident_id,
      [`${d.callsign || unitName(ev.unit_id)} 超时未应答，已改派下一警力`, `${d.callsign || unitName(ev.unit_id)} did not answer in time: offered to the next unit`]);
  } else if (ev.kind === "incident.pending" || ev.kind === "incident.awaiting_confirmation") {
    const stuck = (d.shortfall || []).find((s) => s.code === "cannot_dispatch");
    if (stuck) {
      alarm(`pending:${ev.incident_id}`, "pending", ev.incident_id,
        [`无法自动派警，请人工派警（${stuck.reason}）`, `cannot be dispatched automatically (${stuck.reason}): send a unit by hand`]);
    } else if (ev.kind === "incident.pending") {
      alarm(`pending:${ev.incident_id}`, "pending", ev.incident_id,
        ["无警力可派，等待空闲警力", "nobody can serve this incident now: waiting for a free unit"]);
    }
  }
}

// ---- the selected incident ------------------------------------------------------------------------

async function select(id) {
  if (selected !== id) {
    selected = id;
    detail = null;
    recommendation = null;
    buildDetail();
  }
  renderQueue();
  renderMap();
  await Promise.all([loadDetail(), loadRecommendation()]);
}

async function loadDetail() {
  const id = selected;
  if (id === null) return;
  try {
    const data = await api("GET", `/api/v1/incidents/${id}`);
    if (id !== selected) return;
    detail = data;
    const known = picture.incidents.get(id);
    if (known && data.status !== "closed") Object.assign(known, { status: data.status, zone: data.zone, times: data.times });
  } catch (err) {
    if (id !== selected) return;
    showError(err);
  }
  renderDetail();
}

async function loadRecommendation() {
  const id = selected;
  if (id === null) return;
  try {
    const data = await api("GET", `/api/v1/incidents/${id}/recommendation`);
    if (id === selected) recommendation = data;
  } catch (err) {
    if (id === selected) recommendation = { error: err.shown, status: err.status };
  }
  renderRecommendation();
  renderMap();
}

function showError(err) {
  const box = $("#d-error");
  if (box) box.textContent = err ? err.shown || String(err) : "";
}

function showNote(message) {
  const box = $("#d-note");
  if (!box) return;
  box.textContent = message;
  later("note", () => (box.textContent = ""), 6000);
}

// run an action: buttons off meanwhile; a refusal (403, 409 ...) is shown, with the center's reason
async function act(button, fn, done) {
  showError(null);
  const buttons = [...document.querySelectorAll("#detail button")];
  buttons.forEach((b) => (b.disabled = true));
  try {
    const result = await fn();
    if (done) showNote(done(result));
  } catch (err) {
    showError(err);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    await Promise.all([loadDetail(), loadRecommendation()]);
  }
}

function buildDetail() {
  const root = $("#detail");
  if (selected === null) {
    root.replaceChildren(el("p", { class: "empty" }, "← 选择一条警情 Select an incident"));
    return;
  }
  const id = selected;
  const reason = el("input", { placeholder: "结案原因 reason (resolved)", maxlength: 500, id: "close-reason" });
  const into = el("input", { type: "number", min: 1, placeholder: "#", id: "merge-into", class: "narrow" });
  root.replaceChildren(
    el("div", { id: "d-head", class: "d-head" }),
    el("p", { id: "d-error", class: "error-box", role: "alert" }),
    el("p", { id: "d-note", class: "note", role: "status" }),
    el("section", { class: "card" },
      el("h3", {}, bi(["推荐派警", "Recommendation"])),
      el("div", { id: "d-rec" }, el("p", { class: "muted" }, "…"))),
    el("section", { class: "card" },
      el("h3", {}, bi(["出警警力", "Units on it"])),
      el("div", { id: "d-assignments" })),
    el("section", { class: "card" },
      el("h3", {}, bi(["派出其他空闲警力", "Send another available unit"])),
      el("div", { id: "d-send" })),
    el("section", { class: "card" },
      el("h3", {}, bi(["处置时间线", "Timeline"])),
      el("ol", { id: "d-timeline", class: "timeline" })),
    el("section", { class: "card" },
      el("h3", {}, bi(["报警记录", "Calls"])),
      el("div", { id: "d-alerts" }),
      el("div", { class: "inline" },
        bi(["并入警情", "Merge into incident"]), into,
        el("button", {
          id: "merge", onclick: (ev) => act(ev.target, () => api("POST", `/api/v1/incidents/${id}/merge`, { into: Number(into.value) }),
            () => `已并入 #${into.value} merged into #${into.value}`),
        }, bi(["合并", "Merge"])))),
    el("section", { class: "card" },
      el("h3", {}, bi(["结案", "Close"])),
      el("div", { class: "inline" }, reason,
        el("button", {
          id: "close", class: "danger",
          onclick: (ev) => act(ev.target, () => api("POST", `/api/v1/incidents/${id}/close`, reason.value ? { reason: reason.value } : {}),
            () => "已结案 closed"),
        }, bi(["结案", "Close incident"])))),
  );
  renderDetail();
}

function renderDetail() {
  if (selected === null || !$("#d-head")) return;
  const i = detail || picture.incidents.get(selected);
  if (!i) return;
  const status = i.status;
  const times = i.times || {};
  $("#d-head").replaceChildren(
    el("span", { class: "prio big", style: `--c:${PRIORITY_COLOUR[i.priority]}` }, `P${i.priority}`),
    el("div", {},
      el("h2", { dataset: { incident: i.id } }, `#${i.id} `, bi(categoryLabel(i.category))),
      el("p", {}, statusChip(INCIDENT_STATUS[status] || [status, ""], `s-${status}`),
        canDispatch ? null : el("span", { class: "status readonly" }, bi(["只读", "read-only"])),
        el("span", { class: "addr" }, i.address || ""), i.zone ? el("span", { class: "muted" }, ` · ${i.zone}`) : null),
      el("p", { class: "muted times" },
        `接警 received ${clock(times.received_at)}`,
        times.dispatched_at ? ` · 派警 dispatched ${clock(times.dispatched_at)}` : "",
        times.on_scene_at ? ` · 到场 on scene ${clock(times.on_scene_at)}` : "",
        " · ", el("time", { dataset: { since: times.received_at || "" } }, ""))),
  );
  renderAssignments();
  renderSend();
  renderAlerts();
  renderTimeline();
  tickAges();
}

function ranked(rows, { action }) {
  return el("table", { class: "grid" },
    el("thead", {}, el("tr", {},
      el("th", {}, "警力 Unit"), el("th", {}, "类型 Kind"), el("th", {}, "行程 Travel"), el("th", {}, "距离 Distance"),
      el("th", {}, "依据 Reasons"), action ? el("th", {}) : null)),
    el("tbody", {}, ...rows.map((r) =>
      el("tr", { dataset: { unit: r.unit_id } },
        el("td", { class: "callsign" }, unitName(r.unit_id)),
        el("td", {}, kindLabel(r.kind)[0]),
        el("td", { class: "num" }, duration(r.travel_s)),
        el("td", { class: "num" }, metres(r.distance_m)),
        el("td", {}, ...(r.reasons || []).map((code) => el("span", { class: "reason", title: code }, text(REASONS[code], code)))),
        action ? el("td", {}, action(r)) : null))));
}

function renderRecommendation() {
  const box = $("#d-rec");
  if (!box) return;
  const rec = recommendation;
  if (!rec) {
    box.replaceChildren(el("p", { class: "muted" }, "…"));
    return;
  }
  if (rec.error) {
    box.replaceChildren(el("p", { class: "error-box", role: "alert", dataset: { status: rec.status } }, rec.error));
    return;
  }
  const current = picture.incidents.get(selected) || detail;
  if (current && current.status === "case") {
    box.replaceChildren(el("p", { class: "muted" }, bi(["网格事件：按网格流程逐级处理，不派警", "A grid case: worked on the grid ladder, not dispatched"])));
    return;
  }
  const id = selected;
  const send = (ids, label) => act(null, () => api("POST", `/api/v1/incidents/${id}/assignments`, { unit_ids: ids }),
    (r) => `${label}: ${r.offered.map((a) => unitName(a.unit_id)).join(", ")}${r.refused.length ? ` · 未派 refused ${r.refused.map((x) => `${unitName(x.unit_id)} (${x.reason})`).join(", ")}` : ""}`);
  const picks = rec.picks || [];
  const incident = picture.incidents.get(id) || detail;
  const waiting = !incident || UNSERVED.has(incident.status);
  const sendOne = (r) => el("button", { onclick: () => send([r.unit_id], "已派 offered") }, bi(["派出", "Send"]));
  const parts = [
    picks.length && waiting
      ? el("div", {},
        ranked(picks, {}),
        el("button", {
          id: "confirm", class: "primary confirm",
          onclick: () => send(picks.map((p) => p.unit_id), "已派 offered"),
        }, bi(["一键确认派警", `Confirm: send ${picks.map((p) => unitName(p.unit_id)).join(", ")}`])))
      : null,
    picks.length && !waiting
      ? el("details", { class: "alternatives" },
        el("summary", {}, bi(["增派建议", `Units to add (${picks.length})`])),
        ranked(picks, { action: sendOne }))
      : null,
    picks.length ? null : el("p", { class: "muted" }, "无推荐 No recommendation"),
    ...(rec.shortfalls || []).map((s) =>
      el("p", { class: "shortfall" }, "⚠ ", bi(SHORTFALLS[s.code] || [s.code, ""]),
        ` · ${s.kinds.map((k) => kindLabel(k)[0]).join("/")} 缺 missing ${s.missing}`)),
    (rec.alternatives || []).length
      ? el("details", { class: "alternatives", open: picks.length === 0 },
        el("summary", {}, bi(["备选警力", `Alternatives (${rec.alternatives.length})`])),
        ranked(rec.alternatives, { action: sendOne }))
      : null,
  ];
  box.replaceChildren(...parts.filter(Boolean));
}

function availableUnits() {
  const i = picture.incidents.get(selected) || detail;
  return [...picture.units.values()]
    .filter((u) => u.status === "available" || u.status === "returning")
    .map((u) => ({ u, d: i && u.lat !== null && u.lat !== undefined ? distanceM(u, i) : Infinity }))
    .sort((a, b) => a.d - b.d);
}

function unitSelect(id) {
  return el("select", { id },
    ...availableUnits().map(({ u, d }) =>
      el("option", { value: u.id }, `${u.callsign} · ${kindLabel(u.kind)[0]} · ${Number.isFinite(d) ? metres(d) : "?"}`)));
}

function renderSend() {
  const box = $("#d-send");
  if (!box) return;
  const id = selected;
  const pick = unitSelect("send-unit");
  box.replaceChildren(el("div", { class: "inline" }, pick,
    el("button", {
      id: "send",
      onclick: () => pick.value && act(null, () => api("POST", `/api/v1/incidents/${id}/assignments`, { unit_ids: [Number(pick.value)] }),
        (r) => `已派 offered ${r.offered.map((a) => unitName(a.unit_id)).join(", ")}`),
    }, bi(["派出 / 增派", "Send / add"]))));
}

function renderAssignments() {
  const box = $("#d-assignments");
  if (!box) return;
  const rows = (detail && detail.assignments) || picture.assignmentsOf(selected);
  if (!rows.length) {
    box.replaceChildren(el("p", { class: "muted" }, "尚未派警 No unit sent yet"));
    return;
  }
  box.replaceChildren(el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, el("th", {}, "警力 Unit"), el("th", {}, "状态 Status"), el("th", {}, "派出 Offered"),
      el("th", {}, "行程 Travel"), el("th", {}))),
    el("tbody", {}, ...rows.map((a) => {
      const active = ["offered", "accepted", "en_route", "on_scene"].includes(a.status);
      const other = unitSelect(`reassign-${a.id}`);
      return el("tr", { dataset: { assignment: a.id, status: a.status } },
        el("td", { class: "callsign" }, unitName(a.unit_id)),
        el("td", {}, statusChip(ASSIGNMENT_STATUS[a.status] || [a.status, ""], `a-${a.status}`),
          a.status === "offered" && a.offer_deadline ? el("span", { class: "deadline", dataset: { deadline: a.offer_deadline } }) : null,
          a.end_reason && !active ? el("small", { class: "muted" }, ` ${a.end_reason}`) : null),
        el("td", {}, clock(a.offered_at)),
        el("td", { class: "num" }, duration(a.travel_s)),
        el("td", { class: "actions" }, active ? [
          other,
          el("button", {
            onclick: () => other.value && act(null, () => api("POST", `/api/v1/assignments/${a.id}/reassign`, { unit_id: Number(other.value) }),
              (r) => `已改派 reassigned to ${unitName(r.offered.unit_id)}`),
          }, bi(["改派", "Reassign"])),
          el("button", {
            class: "danger",
            onclick: () => act(null, () => api("POST", `/api/v1/assignments/${a.id}/cancel`, {}), () => `已取消 ${unitName(a.unit_id)} stood down`),
          }, bi(["取消", "Cancel"])),
        ] : null));
    }))));
}

function renderAlerts() {
  const box = $("#d-alerts");
  if (!box) return;
  const alerts = (detail && detail.alerts) || [];
  box.replaceChildren(el("ul", { class: "alerts" }, ...alerts.map((a) =>
    el("li", { dataset: { alert: a.id } },
      el("span", { class: "chip" }, a.channel),
      el("time", {}, clock(a.received_at)),
      el("span", {}, categoryLabel(a.category)[0]),
      el("span", { class: "addr" }, a.address || ""),
      a.caller_phone ? el("span", { class: "caller" }, `☎ ${a.caller_phone}${a.caller_name ? " " + a.caller_name : ""}`) : null,
      a.description ? el("span", { class: "muted" }, a.description) : null,
      alerts.length > 1
        ? el("button", {
          onclick: () => act(null, () => api("POST", `/api/v1/alerts/${a.id}/unlink`), (r) => `已拆分为新警情 unlinked: #${r.incident_id || ""}`),
        }, bi(["拆分", "Unlink"]))
        : null))));
}

function renderTimeline() {
  const box = $("#d-timeline");
  if (!box) return;
  const rows = (detail && detail.timeline) || [];
  box.replaceChildren(...rows.map((e) =>
    el("li", { dataset: { kind: e.kind } },
      el("time", {}, clock(e.at)),
      bi(EVENTS[e.kind] || [e.kind, ""]),
      e.unit_id ? el("span", { class: "callsign" }, (e.data && e.data.callsign) || unitName(e.unit_id)) : null,
      el("small", { class: "muted" }, e.actor))));
}

function renderMap() {
  if (!map) return;
  const incident = selected !== null ? picture.incidents.get(selected) : null;
  const waiting = incident && UNSERVED.has(incident.status);
  const picks = waiting && recommendation && recommendation.picks ? recommendation.picks.map((p) => p.unit_id) : [];
  map.render(picture, { selected, highlight: picks });
  map.fit(picture);
}

// ---- the feed --------------------------------------------------------------------------------------

function onSnapshot(state) {
  picture.load(state);
  calendarAlarm(state.calendar);
  for (const i of picture.incidents.values()) {
    if (i.status === "pending") alarm(`pending:${i.id}`, "pending", i.id, ["无警力可派，等待空闲警力", "nobody can serve this incident now: waiting for a free unit"]);
  }
  if (map) map.reset();
  refreshAll();
}

function onEvent(ev) {
  const changed = picture.apply(ev);
  alarmsFrom(ev);
  if (ev.kind === "units.moved") {
    later("map", renderMap, 300);
    return;
  }
  if (selected !== null && ev.incident_id === selected) {
    later("detail", () => Promise.all([loadDetail(), loadRecommendation()]), 200);
  } else if (selected !== null && changed.units) {
    later("rec", () => { loadRecommendation(); renderSend(); }, 800);
  }
  later("all", refreshAll, 100);
}

function refreshAll() {
  renderQueue();
  renderAlarms();
  renderMap();
}

async function main() {
  const { token, claims } = await requireLogin({
    roles: ["dispatcher", "call_taker", "display"],
    title: "调度台 · Dispatcher console",
  });
  canDispatch = claims.role === "dispatcher" || claims.role === "admin";
  document.body.dataset.role = claims.role;
  whoami($("#who"), claims);
  $("#sound").addEventListener("click", () => {
    const ctx = audioContext();
    if (ctx) ctx.resume();
    beep([[660, 120]]);
  });
  if (hasLeaflet()) {
    map = new OpsMap($("#map"), cfg, { labels: true, heat: false, onIncident: select });
  } else {
    $("#map-note").hidden = false;
    $("#map-note").textContent = "地图库未安装 The map library is not installed: run ./run up";
  }
  new OpsFeed({
    token, onSnapshot, onEvent, onStatus: setConn,
    onAuthFailed: (reason) => {
      if (/expired|invalid|signature/i.test(reason)) logout();
    },
  }).start();
  setInterval(tickAges, 1000);
}

main();

// The console's state.selected incident: its head, the units on it (reassign, cancel), the calls (unlink,
// merge), closing, and the timeline. The recommendation and the send box are console-recommend.js.

import { api } from "./session.js";
import { ACTIVE } from "./statuses.js";
import { ASSIGNMENT_STATUS, EVENTS, INCIDENT_STATUS, PRIORITY_COLOUR, bi, categoryLabel, clock, duration, el, metres } from "./labels.js";
import { ahead } from "./routes.js";
import { $, act, hooks, showError, state, statusChip, tickAges, unitName } from "./console-common.js";
import { renderQueue } from "./console-queue.js";
import { renderRecommendation, renderSend, unitSelect } from "./console-recommend.js";
import { closeReplay, replayButton } from "./console-replay.js";

export async function select(id) {
  if (state.selected !== id) {
    if (state.replay !== null) closeReplay(); // another incident: back to the live view first
    state.selected = id;
    state.detail = null;
    state.recommendation = null;
    buildDetail();
  }
  renderQueue();
  hooks.renderMap();
  await Promise.all([loadDetail(), loadRecommendation()]);
}

export async function loadDetail() {
  const id = state.selected;
  if (id === null) return;
  try {
    const data = await api("GET", `/api/v1/incidents/${id}`);
    if (id !== state.selected) return;
    state.detail = data;
    const known = state.picture.incidents.get(id);
    if (known && data.status !== "closed") Object.assign(known, { status: data.status, zone: data.zone, times: data.times });
  } catch (err) {
    if (id !== state.selected) return;
    showError(err);
  }
  renderDetail();
}

export async function loadRecommendation() {
  const id = state.selected;
  if (id === null) return;
  try {
    const data = await api("GET", `/api/v1/incidents/${id}/recommendation`);
    if (id === state.selected) state.recommendation = data;
  } catch (err) {
    if (id === state.selected) state.recommendation = { error: err.shown, status: err.status };
  }
  renderRecommendation();
  hooks.renderMap();
}

export function buildDetail() {
  const root = $("#detail");
  if (state.selected === null) {
    root.replaceChildren(el("p", { class: "empty" }, "← 选择一条警情 Select an incident"));
    return;
  }
  const id = state.selected;
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
      el("h3", { class: "with-action" }, bi(["处置时间线", "Timeline"]), state.map && state.canReplay ? replayButton(id) : null),
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

export function renderDetail() {
  if (state.selected === null || !$("#d-head")) return;
  const i = state.detail || state.picture.incidents.get(state.selected);
  if (!i) return;
  const status = i.status;
  const times = i.times || {};
  $("#d-head").replaceChildren(
    el("span", { class: "prio big", style: `--c:${PRIORITY_COLOUR[i.priority]}` }, `P${i.priority}`),
    el("div", {},
      el("h2", { dataset: { incident: i.id } }, `#${i.id} `, bi(categoryLabel(i.category))),
      el("p", {}, statusChip(INCIDENT_STATUS[status] || [status, ""], `s-${status}`),
        state.canDispatch ? null : el("span", { class: "status readonly" }, bi(["只读", "read-only"])),
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

export function renderAssignments() {
  const box = $("#d-assignments");
  if (!box) return;
  const rows = (state.detail && state.detail.assignments) || state.picture.assignmentsOf(state.selected);
  if (!rows.length) {
    box.replaceChildren(el("p", { class: "muted" }, "尚未派警 No unit sent yet"));
    return;
  }
  box.replaceChildren(el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, el("th", {}, "警力 Unit"), el("th", {}, "状态 Status"), el("th", {}, "派出 Offered"),
      el("th", {}, "行程 Travel"), el("th", {}))),
    el("tbody", {}, ...rows.map((a) => {
      const active = ACTIVE.has(a.status);
      const other = unitSelect(`reassign-${a.id}`);
      return el("tr", { dataset: { assignment: a.id, status: a.status } },
        el("td", { class: "callsign" }, unitName(a.unit_id)),
        el("td", {}, statusChip(ASSIGNMENT_STATUS[a.status] || [a.status, ""], `a-${a.status}`),
          a.status === "offered" && a.offer_deadline ? el("span", { class: "deadline", dataset: { deadline: a.offer_deadline } }) : null,
          a.end_reason && !active ? el("small", { class: "muted" }, ` ${a.end_reason}`) : null),
        el("td", {}, clock(a.offered_at)),
        travelCell(a, active),
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

// an active unit with a road route: the distance and ETA still ahead from its latest fix, refreshed as it
// moves; otherwise the travel time the recommendation estimated
function travelCell(a, active) {
  const unit = state.picture.units.get(a.unit_id);
  const inc = state.picture.incidents.get(a.incident_id);
  const here = unit && unit.lat !== undefined ? [unit.lat, unit.lon] : null;
  const there = inc && inc.lat !== undefined ? [inc.lat, inc.lon] : null;
  const left = active && a.status !== "on_scene" ? ahead(a.route, here, there) : null;
  if (!left) return el("td", { class: "num" }, duration(a.travel_s));
  return el("td", { class: "num eta-ahead", dataset: { etaS: Math.round(left.seconds) } },
    `${duration(left.seconds)} · ${metres(left.metres)}`);
}

// whether a units.moved event moves a unit driving a road route to the selected incident (its ETA)
export function movesSelected(ev) {
  if (state.selected === null) return false;
  const rows = (state.detail && state.detail.assignments) || [];
  const ours = new Set(rows.filter((a) => ACTIVE.has(a.status) && a.route).map((a) => a.unit_id));
  return (ev.positions || []).some((p) => ours.has(p.unit_id));
}

export function renderAlerts() {
  const box = $("#d-alerts");
  if (!box) return;
  const alerts = (state.detail && state.detail.alerts) || [];
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

export function renderTimeline() {
  const box = $("#d-timeline");
  if (!box) return;
  const rows = (state.detail && state.detail.timeline) || [];
  box.replaceChildren(...rows.map((e) =>
    el("li", { dataset: { kind: e.kind } },
      el("time", {}, clock(e.at)),
      bi(EVENTS[e.kind] || [e.kind, ""]),
      e.unit_id ? el("span", { class: "callsign" }, (e.data && e.data.callsign) || unitName(e.unit_id)) : null,
      el("small", { class: "muted" }, e.actor))));
}

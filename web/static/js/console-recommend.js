// The console's recommendation (confirmed in one click, units to add, alternatives, shortfalls) and the
// box that sends any other available unit instead.

import { api } from "./session.js";
import { AVAILABILITY, UNSERVED } from "./statuses.js";
import { REASONS, SHORTFALLS, bi, duration, el, kindLabel, metres, text } from "./labels.js";
import { $, act, distanceM, state, unitName } from "./console-common.js";

export function ranked(rows, { action }) {
  return el("table", { class: "grid" },
    el("thead", {}, el("tr", {},
      el("th", {}, "警力 Unit"), el("th", {}, "类型 Kind"), el("th", {}, "行程 Travel"), el("th", {}, "距离 Distance"),
      el("th", {}, "依据 Reasons"), action ? el("th", {}) : null)),
    el("tbody", {}, ...rows.map((r) =>
      el("tr", { dataset: { unit: r.unit_id } },
        el("td", { class: "callsign" }, unitName(r.unit_id)),
        el("td", {}, kindLabel(r.kind)[0]),
        el("td", { class: "num" }, duration(r.travel_s)),
        el("td", { class: "num" }, metres(r.route ? r.route.distance_m : r.distance_m)),
        el("td", {}, ...(r.reasons || []).map((code) => el("span", { class: "reason", title: code }, text(REASONS[code], code)))),
        action ? el("td", {}, action(r)) : null))));
}

export function renderRecommendation() {
  const box = $("#d-rec");
  if (!box) return;
  const rec = state.recommendation;
  if (!rec) {
    box.replaceChildren(el("p", { class: "muted" }, "…"));
    return;
  }
  if (rec.error) {
    box.replaceChildren(el("p", { class: "error-box", role: "alert", dataset: { status: rec.status } }, rec.error));
    return;
  }
  const current = state.picture.incidents.get(state.selected) || state.detail;
  if (current && current.status === "case") {
    box.replaceChildren(el("p", { class: "muted" }, bi(["网格事件：按网格流程逐级处理，不派警", "A grid case: worked on the grid ladder, not dispatched"])));
    return;
  }
  const id = state.selected;
  const send = (ids, label) => act(null, () => api("POST", `/api/v1/incidents/${id}/assignments`, { unit_ids: ids }),
    (r) => `${label}: ${r.offered.map((a) => unitName(a.unit_id)).join(", ")}${r.refused.length ? ` · 未派 refused ${r.refused.map((x) => `${unitName(x.unit_id)} (${x.reason})`).join(", ")}` : ""}`);
  const picks = rec.picks || [];
  const incident = state.picture.incidents.get(id) || state.detail;
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

export function availableUnits() {
  const i = state.picture.incidents.get(state.selected) || state.detail;
  // never the officer whose own panic this incident is (the center refuses it too)
  const panicking = state.panic ? state.panic.unitsOf(state.selected) : new Set();
  return [...state.picture.units.values()]
    .filter((u) => AVAILABILITY[u.status] === "available" && !panicking.has(u.id))
    .map((u) => ({ u, d: i && u.lat !== null && u.lat !== undefined ? distanceM(u, i) : Infinity }))
    .sort((a, b) => a.d - b.d);
}

export function unitSelect(id) {
  return el("select", { id },
    ...availableUnits().map(({ u, d }) =>
      el("option", { value: u.id }, `${u.callsign} · ${kindLabel(u.kind)[0]} · ${Number.isFinite(d) ? metres(d) : "?"}`)));
}

export function renderSend() {
  const box = $("#d-send");
  if (!box) return;
  const id = state.selected;
  const pick = unitSelect("send-unit");
  box.replaceChildren(el("div", { class: "inline" }, pick,
    el("button", {
      id: "send",
      onclick: () => pick.value && act(null, () => api("POST", `/api/v1/incidents/${id}/assignments`, { unit_ids: [Number(pick.value)] }),
        (r) => `已派 offered ${r.offered.map((a) => unitName(a.unit_id)).join(", ")}`),
    }, bi(["派出 / 增派", "Send / add"]))));
}

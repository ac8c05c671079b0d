// The console's alarms: offers that timed out, incidents nobody can serve, a calendar without holidays.

import { beep, bi, clock, el } from "./labels.js";
import { $, hooks, state, unitName } from "./console-common.js";

const alarms = new Map(); // key -> {key, kind, incidentId, words, at}

export function alarm(key, kind, incidentId, words) {
  if (alarms.has(key)) return;
  alarms.set(key, { key, kind, incidentId, words, at: new Date().toISOString() });
  renderAlarms();
  beep([[988, 160], [0, 60], [740, 160], [0, 60], [988, 220]]);
}

export function renderAlarms() {
  // an incident waiting for a unit stops alarming once a unit is on it
  for (const [key, a] of alarms) {
    const i = state.picture.incidents.get(a.incidentId);
    if (a.kind === "pending" && (!i || i.status !== "pending")) alarms.delete(key);
  }
  $("#alarms").replaceChildren(
    ...[...alarms.values()].map((a) =>
      el("div", { class: `alarm ${a.kind}`, role: "alert", dataset: { alarm: a.kind, incident: a.incidentId } },
        el("span", { class: "icon" }, "⚠"),
        el("time", {}, clock(a.at)),
        a.incidentId != null && el("button", { class: "link", onclick: () => hooks.select(a.incidentId) }, `#${a.incidentId}`),
        bi(a.words),
        el("button", { class: "quiet", title: "知道了 Acknowledge", onclick: () => { alarms.delete(a.key); renderAlarms(); } }, "✕")),
    ),
  );
}

// years with no holiday data in the working-day calendar (from the snapshot): grid-case deadlines count
// their holidays as working days until an operator adds them (DISPATCH_WORKDAYS_FILE)
export function calendarAlarm(calendar) {
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

export function alarmsFrom(ev) {
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

export function pendingAlarm(id) {
  alarm(`pending:${id}`, "pending", id, ["无警力可派，等待空闲警力", "nobody can serve this incident now: waiting for a free unit"]);
}

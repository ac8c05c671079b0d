// The shift reports: the list of those kept (newest first, as the center lists them) and one of them as
// a printable page: its counts, response times by priority, the worst response times, the grid cases
// overdue at its end and the units that went stale. Printing shows this view alone (reports.css).

import { api } from "./session.js";
import {
  INCIDENT_STATUS, PRIORITY, REPORTS, UNIT_STATUS, bi, categoryLabel, el, kindLabel, text,
} from "./labels.js";
import { cell, minutes } from "./reports-table.js";
import { shown } from "./reports-period.js";

const LISTED = 12; // rows of a list on the printed page; the rest are counted

// the figures' words come from the report tables' columns (the same keys), never a copy of them
function tiles(values, columns, skip = ["group"]) {
  const shownKeys = columns.filter((c) => !skip.includes(c.key) && c.key in values);
  return el("div", { class: "tiles" }, shownKeys.map((c) => el("div", { class: "tile", "data-key": c.key },
    el("b", {}, cell(values[c.key], c.measure)), bi([c.zh, c.en]))));
}

function table(head, rows) {
  return el("table", { class: "figures-table compact" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, Array.isArray(h) ? bi(h) : h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
}

function more(list) {
  return list.length > LISTED ? el("p", { class: "muted" }, `+${list.length - LISTED}`) : null;
}

function block(name, ...children) {
  return el("section", { class: "shift-block", "data-block": name }, el("h3", {}, bi(REPORTS[name])), ...children);
}

function sumRows(rows, columns) {
  const total = {};
  for (const c of columns) {
    if (c.measure === "count") total[c.key] = rows.reduce((n, r) => n + (r[c.key] || 0), 0);
  }
  return total;
}

export function renderShift(view, summary, columns, zone) {
  const tz = summary.timezone || zone;
  const response = columns.response || [];
  const byPriority = response.filter((c) => ["group", "incidents", "dispatch_p50", "dispatch_p90", "arrive_p50",
    "arrive_p90", "arrive_in_target"].includes(c.key));
  const overdue = summary.overdue_cases || { by_town: {}, oldest: [] };
  const stale = summary.stale_units || [];
  const worst = summary.worst || [];
  view.replaceChildren(
    el("header", { class: "shift-head" },
      el("h2", {}, bi(REPORTS.shift), ` #${summary.id}`),
      el("p", { class: "shift-period", "data-shift-id": summary.id },
        `${shown(summary.shift_start, tz)} – ${shown(summary.shift_end, tz)} (${tz})`),
      el("p", { class: "muted" }, bi(REPORTS.made_at), " ", shown(summary.made_at, tz)),
      el("div", { class: "no-print" },
        el("button", { class: "primary", id: "print", onclick: () => window.print() }, text(REPORTS.print)),
        el("button", { id: "close-shift", onclick: () => { view.hidden = true; } }, text(REPORTS.close)))),
    block("response", tiles(summary.response || {}, response)),
    block("offers", tiles(summary.offers || {}, columns.offers || [])),
    block("cases", tiles(sumRows(summary.cases || [], columns.cases || []), columns.cases || [])),
    block("by_priority", table(byPriority.map((c) => [c.zh, c.en]), (summary.by_priority || []).map(
      (row) => byPriority.map((c) => (c.key === "group" ? text(PRIORITY[row.group], row.group) : cell(row[c.key], c.measure)))))),
    block("worst", worst.length === 0 ? el("p", {}, text(REPORTS.none)) : table(
      [REPORTS.incident, REPORTS.category, REPORTS.priority, REPORTS.zone, REPORTS.received, REPORTS.to_dispatch,
        REPORTS.to_scene, REPORTS.status],
      worst.map((w) => [`#${w.incident_id}`, text(categoryLabel(w.category)), String(w.priority), w.zone || "–",
        shown(w.received_at, tz), minutes(w.dispatch_s), minutes(w.arrive_s),
        text(INCIDENT_STATUS[w.status], w.status)]))),
    block("overdue",
      el("p", { class: "towns" }, Object.entries(overdue.by_town).map(([town, n]) => el("span", { class: "chip" },
        `${town || "–"}: ${n}`)), Object.keys(overdue.by_town).length ? null : text(REPORTS.none)),
      overdue.oldest.length ? table([REPORTS.town, REPORTS.category, REPORTS.deadline],
        overdue.oldest.slice(0, LISTED).map((c) => [`${c.town} ${c.community || ""}`.trim(),
          text(categoryLabel(c.category)), shown(c.deadline, tz)])) : null),
    block("stale", stale.length === 0 ? el("p", {}, text(REPORTS.none)) : table(
      [REPORTS.callsign, REPORTS.unit_kind, REPORTS.status, REPORTS.last_fix],
      stale.slice(0, LISTED).map((u) => [u.callsign, text(kindLabel(u.kind)), text(UNIT_STATUS[u.status], u.status),
        u.last_fix_at ? shown(u.last_fix_at, tz) : text(REPORTS.never)])), more(stale)),
  );
  view.hidden = false;
}

export async function openShift(view, id, columns, zone) {
  renderShift(view, await api("GET", `/api/v1/reports/shifts/${id}`), columns, zone);
}

// the kept reports, newest first; `onOpen(id)` shows one
export function renderShiftList(section, shifts, zone, onOpen) {
  const rows = shifts.map((s) => el("tr", { "data-shift-id": s.id },
    el("td", {}, `#${s.id}`),
    el("td", {}, `${shown(s.shift_start, zone)} – ${shown(s.shift_end, zone)}`),
    el("td", { "data-key": "incidents" }, s.incidents === null ? "–" : String(s.incidents)),
    el("td", { "data-key": "arrive_p90" }, minutes(s.arrive_p90)),
    el("td", { "data-key": "stale_units" }, s.stale_units === null ? "–" : String(s.stale_units)),
    el("td", {}, el("button", { class: "open-shift", onclick: () => onOpen(s.id) }, text(REPORTS.open)))));
  section.replaceChildren(
    el("h2", {}, bi(REPORTS.shifts)),
    shifts.length === 0 ? el("p", { class: "muted" }, text(REPORTS.none)) : el("div", { class: "table-wrap" },
      el("table", { class: "figures-table", id: "shift-list" },
        el("thead", {}, el("tr", {}, [["#", ""], REPORTS.shift, REPORTS.incidents, REPORTS.arrive_p90,
          REPORTS.stale, ["", ""]].map((w) => el("th", {}, bi(w))))),
        el("tbody", {}, rows))));
}

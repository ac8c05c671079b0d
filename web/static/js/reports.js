// /reports: leadership's figures for a period picked on the center's clock (presets or from/until) and a
// grouping: response times, offers and grid cases, each a chart beside its full table with CSV and XLSX
// downloads; then the kept shift reports, each opened as a printable page. This file wires the form and
// the sections: reports-period.js (time zone arithmetic), reports-table.js (tables, downloads),
// reports-charts.js (Chart.js), reports-shift.js (the shift reports). The API decides who may read.

import { api, config, requireLogin, whoami } from "./session.js";
import { REPORTS, bi, el, text } from "./labels.js";
import { PRESETS, fromInput, presetPeriod, shown, toInput } from "./reports-period.js";
import { download, renderTable } from "./reports-table.js";
import { chartsOf, drawCharts, hasCharts } from "./reports-charts.js";
import { openShift, renderShiftList } from "./reports-shift.js";

const cfg = config();
const zone = cfg.timezone || "UTC";
const GROUPINGS = ["category", "priority", "zone", "hour", "day", "unit_kind", "all"];
const GROUPED = ["response", "offers"]; // the reports a grouping applies to; the grid cases are per town
const $ = (sel) => document.querySelector(sel);
const columns = {}; // report -> its columns, as last given: the shift view's words
let asked = 0; // the latest request: an older answer arriving late is dropped

function heading(name, extra = []) {
  return el("header", { class: "section-head" }, el("h2", {}, bi(REPORTS[name])), ...extra);
}

function renderSection(section, name, report, params) {
  const failed = el("p", { class: "error-box download-error", role: "alert" });
  const save = (format) => async (ev) => {
    failed.textContent = "";
    ev.target.disabled = true;
    try {
      await download(name, params, format);
    } catch (err) {
      failed.textContent = `${text(REPORTS.failed)}: ${err.shown}`;
    } finally {
      ev.target.disabled = false;
    }
  };
  const drawn = report.rows.length > 0 && hasCharts();
  section.replaceChildren(...[
    heading(name, [
      el("span", { class: "muted period-shown" }, `${shown(report.since, zone)} – ${shown(report.until, zone)}`),
      el("span", { class: "downloads" },
        el("button", { class: "download", "data-format": "csv", onclick: save("csv") }, text(REPORTS.csv)),
        el("button", { class: "download", "data-format": "xlsx", onclick: save("xlsx") }, text(REPORTS.xlsx))),
    ]),
    failed,
    report.truncated ? el("p", { class: "news-box truncated" }, text(REPORTS.truncated)) : null,
    report.rows.length === 0 ? el("p", { class: "muted empty" }, text(REPORTS.empty)) : null,
    report.rows.length > 0 && !hasCharts() ? el("p", { class: "muted" }, text(REPORTS.no_charts)) : null,
    drawn ? el("div", { class: "charts" }, chartsOf(name).map(([chart]) => el("div", { class: "chart-box" },
      el("canvas", { "data-chart": chart, role: "img", "aria-label": `${name} ${chart}` })))) : null,
    renderTable(report),
  ].filter(Boolean));
  section.dataset.state = "shown";
  if (drawn) drawCharts(section, report);
}

function showFailure(section, name, err) {
  if (err.status === 403) {
    // the center refuses this role: nothing on the page can be read, so say so once, at the top
    $("#refused").textContent = `${text(REPORTS.refused)} — ${err.shown}`;
    $("#figures").hidden = true;
    $("#period").hidden = true;
    return;
  }
  section.replaceChildren(heading(name),
    el("p", { class: "error-box", role: "alert" }, `${text(REPORTS.failed)}: ${err.shown}`));
  section.dataset.state = "failed";
}

async function loadReport(name, params, mine) {
  const section = $(`#${name}`);
  try {
    const report = await api("GET", `/api/v1/reports/${name}?${new URLSearchParams(params)}`);
    if (mine !== asked) return;
    columns[name] = report.columns;
    renderSection(section, name, report, params);
  } catch (err) {
    if (mine === asked) showFailure(section, name, err);
  }
}

async function loadShifts(mine) {
  const section = $("#shifts");
  try {
    const shifts = await api("GET", "/api/v1/reports/shifts?limit=100");
    if (mine !== asked) return;
    renderShiftList(section, shifts, zone, async (id) => {
      try {
        await openShift($("#shift-view"), id, columns, zone);
      } catch (err) {
        showFailure(section, "shifts", err);
      }
    });
    section.dataset.state = "shown";
  } catch (err) {
    if (mine === asked) showFailure(section, "shifts", err);
  }
}

function load() {
  const since = fromInput($("#since").value, zone);
  const until = fromInput($("#until").value, zone);
  if (Number.isNaN(since) || Number.isNaN(until)) return;
  const period = { since: new Date(since).toISOString(), until: new Date(until).toISOString() };
  const by = $("#by").value;
  const mine = ++asked;
  for (const name of [...GROUPED, "cases"]) {
    const section = $(`#${name}`);
    section.dataset.state = "loading";
    section.replaceChildren(heading(name), el("p", { class: "muted" }, text(REPORTS.loading)));
  }
  return Promise.all([
    ...GROUPED.map((name) => loadReport(name, { ...period, by }, mine)),
    loadReport("cases", period, mine),
    loadShifts(mine),
  ]);
}

function usePreset(name) {
  const [since, until] = presetPeriod(name, Date.now(), zone);
  $("#since").value = toInput(since, zone);
  $("#until").value = toInput(until, zone);
  for (const b of document.querySelectorAll("#presets button")) b.setAttribute("aria-pressed", String(b.value === name));
  load();
}

function buildForm() {
  $("#presets").replaceChildren(...PRESETS.map((name) => el("button", {
    type: "button", value: name, "aria-pressed": "false", onclick: () => usePreset(name),
  }, text(REPORTS[name]))));
  $("#by").replaceChildren(...GROUPINGS.map((g) => el("option", { value: g }, text(REPORTS[g]))));
  $("#zone").textContent = zone;
  $("#period").addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const b of document.querySelectorAll("#presets button")) b.setAttribute("aria-pressed", "false");
    load();
  });
  $("#by").addEventListener("change", load);
}

async function main() {
  buildForm();
  // every person's role may open the page; the API answers who may read the figures (403 is shown)
  const { claims } = await requireLogin({
    roles: ["dispatcher", "display", "call_taker", "grid_worker"], title: "报表 · Reports",
  });
  document.body.dataset.role = claims.role;
  whoami($("#who"), claims);
  usePreset("last7");
}

main();

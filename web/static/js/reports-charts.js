// The reports' charts, drawn with Chart.js (served by the center from its npm package, a global
// `Chart`): bars per group for the response times, the shares within target, the offers and the grid
// cases. The labels come from the table's columns, so a chart never names a figure the table does not.

import { REPORTS, text } from "./labels.js";
import { groupLabel, rowKey } from "./reports-table.js";

const COLOURS = ["#3b82f6", "#93c5fd", "#f97316", "#fdba74", "#22c55e", "#a855f7", "#ef4444", "#eab308"];

export function hasCharts() {
  return typeof window.Chart === "function";
}

// what each report draws: [chart name, column keys (or a choice of them), how a value is scaled, stacked?, axis words]
const CHARTS = {
  response: [
    ["times", ["dispatch_p50", "dispatch_p90", "arrive_p50", "arrive_p90"], (v) => v / 60, false, REPORTS.times_chart],
    ["targets", ["dispatch_in_target", "arrive_in_target", "urgent_moving_1min", "urgent_on_scene_3min",
      "urgent_on_scene_5min"], (v) => v * 100, false, REPORTS.targets_chart],
  ],
  // what became of the offers (every count but the total), stacked; the grid cases' counts side by side
  offers: [["offers", (cols) => counts(cols).filter((k) => k !== "offers"), (v) => v, true, REPORTS.offers]],
  cases: [["cases", counts, (v) => v, false, REPORTS.cases]],
};

function counts(cols) {
  return cols.filter((c) => c.measure === "count").map((c) => c.key);
}

export function chartsOf(report) {
  return CHARTS[report] || [];
}

function config(report, [, keys, scale, stacked, words]) {
  const columns = new Map(report.columns.map((c) => [c.key, c]));
  const labels = report.rows.map((row) => ("group" in row ? text(groupLabel(report.by, row.group)).trim()
    : rowKey(row)));
  const wanted = typeof keys === "function" ? keys(report.columns) : keys;
  const datasets = wanted.filter((k) => columns.has(k)).map((key, n) => ({
    label: `${columns.get(key).zh} ${columns.get(key).en}`,
    data: report.rows.map((row) => (row[key] === null || row[key] === undefined ? null : scale(row[key]))),
    backgroundColor: COLOURS[n % COLOURS.length],
    stack: stacked ? "all" : undefined,
  }));
  const percent = words === REPORTS.targets_chart;
  return {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false, // drawn at once: nothing to wait for, and a printout shows the finished chart
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" }, title: { display: true, text: text(words) } },
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, max: percent ? 100 : undefined,
             ticks: { callback: (v) => (percent ? `${v}%` : v) } },
      },
    },
  };
}

// draw (or draw again) the report's charts in their canvases, found by data-chart inside `section`
export function drawCharts(section, report) {
  if (!hasCharts()) return;
  window.Chart.defaults.color = "#cbd5e1";
  window.Chart.defaults.borderColor = "#26324d";
  for (const spec of chartsOf(report.report)) {
    const canvas = section.querySelector(`canvas[data-chart="${spec[0]}"]`);
    if (!canvas) continue;
    const old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    new window.Chart(canvas, config(report, spec));
  }
}

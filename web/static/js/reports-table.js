// One report's table as the API gives it (columns with their zh/en labels and measure, rows keyed by the
// columns' keys): the cells formatted by measure, the group named in words, and the CSV and XLSX
// downloads, fetched with the bearer token (a plain link would carry none) and saved from a blob.

import { ApiError, currentToken } from "./session.js";
import { PRIORITY, REPORTS, bi, categoryLabel, el, kindLabel } from "./labels.js";

// seconds as m:ss (h:mm:ss from an hour): leadership reads minutes, the exact value is in the title
export function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const two = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return `${Math.floor(s / 60)}:${two(s % 60)}`;
}

export function percent(share) {
  return share === null || share === undefined ? "–" : `${(share * 100).toFixed(1)}%`;
}

export function cell(value, measure) {
  if (value === null || value === undefined) return "–";
  if (measure === "seconds") return minutes(value);
  if (measure === "share") return percent(value);
  return String(value);
}

// a group's name in words: category and unit kind names from the page config, priorities by name
export function groupLabel(by, value) {
  if (by === "category") return categoryLabel(value);
  if (by === "unit_kind") return kindLabel(value);
  if (by === "priority") return PRIORITY[value] ? [`${value} ${PRIORITY[value][0]}`, PRIORITY[value][1]] : [value, ""];
  if (by === "zone" && value === "") return REPORTS.no_zone;
  if (by === "hour") return [`${value}:00`, ""];
  if (by === "all") return REPORTS.all;
  return [value, ""];
}

// the key a row is found by: its group, or level/town for the grid cases
export function rowKey(row) {
  return "group" in row ? String(row.group) : `${row.level}/${row.town}`;
}

export function renderTable(report) {
  const head = el("tr", {}, report.columns.map((c) => el("th", { "data-key": c.key, class: `m-${c.measure}` },
    bi([c.zh, c.en]))));
  const body = report.rows.map((row) => el("tr", { "data-group": rowKey(row) }, report.columns.map((c) => {
    const value = row[c.key];
    const shown = c.key === "group" ? bi(groupLabel(report.by, value)) : cell(value, c.measure);
    return el("td", {
      "data-key": c.key, class: `m-${c.measure}`, "data-value": value === null ? "" : String(value),
      title: c.measure === "seconds" && value !== null ? `${value} s` : null,
    }, shown);
  })));
  return el("div", { class: "table-wrap" },
    el("table", { class: "figures-table", "data-report": report.report },
      el("thead", {}, head), el("tbody", {}, body)));
}

// GET a report as csv or xlsx and save it under the name the center gives it
export async function download(name, params, format) {
  const query = new URLSearchParams({ ...params, format });
  const headers = { Authorization: `Bearer ${currentToken()}` };
  let reply;
  try {
    reply = await fetch(`/api/v1/reports/${name}?${query}`, { headers });
  } catch (err) {
    throw new ApiError(0, `the center cannot be reached (${err.message})`, null);
  }
  if (!reply.ok) {
    let reason = reply.statusText;
    try {
      const body = await reply.json();
      reason = body.error || JSON.stringify(body.detail) || reason;
    } catch {
      // not JSON: the status text says enough
    }
    throw new ApiError(reply.status, reason, null);
  }
  const blob = await reply.blob();
  const given = /filename="([^"]+)"/.exec(reply.headers.get("Content-Disposition") || "");
  const link = el("a", { href: URL.createObjectURL(blob), download: given ? given[1] : `${name}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // after the browser has taken the file
}

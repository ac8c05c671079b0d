// The console's shared state and the helpers its panels use (console.js wires the panels together).

import { Picture } from "./picture.js";
import { bi, duration, el } from "./labels.js";

export const $ = (sel) => document.querySelector(sel);

export const state = {
  picture: new Picture(),
  map: null, // an OpsMap, when the map library is installed
  selected: null, // incident id
  detail: null, // GET /incidents/{id}
  recommendation: null, // GET /incidents/{id}/recommendation, or {error}
  canDispatch: false,
  canReplay: false,
  replay: null, // the incident whose replay is on the map (console-replay.js), or null: the live view
  panic: null, // the panic alarm (panic-alarm.js)
};

// what a panel calls in another, set by console.js: select(id), reload() (the detail and the
// recommendation), renderMap()
export const hooks = { select: () => {}, reload: async () => {}, renderMap: () => {} };

const timers = {};

export function later(name, fn, ms) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(fn, ms);
}

export function distanceM(a, b) {
  const r = 6371000;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

export function unitName(id) {
  const u = state.picture.units.get(id);
  return u ? u.callsign : `#${id}`;
}

export function statusChip(pair, cls) {
  return el("span", { class: `status ${cls}` }, bi(pair));
}

export function tickAges() {
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

export function showError(err) {
  const box = $("#d-error");
  if (box) box.textContent = err ? err.shown || String(err) : "";
}

export function showNote(message) {
  const box = $("#d-note");
  if (!box) return;
  box.textContent = message;
  later("note", () => (box.textContent = ""), 6000);
}

// run an action: buttons off meanwhile; a refusal (403, 409 ...) is shown, with the center's reason
export async function act(button, fn, done) {
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
    await hooks.reload();
  }
}


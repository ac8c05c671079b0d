// The console's replay: one incident's timeline played on the console's map from
// GET /api/v1/incidents/{id}/replay. The live layers are taken off the map meanwhile and put back on
// close. What is shown at the replay clock's time comes from the pure functions of replay.js; this file
// only draws it and runs the controls (play/pause, speed, the scrubber, close).

import { api } from "./session.js";
import { EVENTS, PRIORITY_COLOUR, REPLAY, bi, categoryLabel, clock, duration, el, text } from "./labels.js";
import { $, hooks, showError, state } from "./console-common.js";
import { SPEEDS, advance, clamp, eventsPassed, extent, marksAt, positionAt, trailAt } from "./replay.js";

const COLOURS = ["#60a5fa", "#f472b6", "#a3e635", "#fbbf24", "#c084fc", "#34d399", "#fb7185", "#38bdf8"];

let player = null; // the replay being shown: { data, t, speed, playing, layer, units, ... }

function liveLayers(map) {
  return [map.zoneLayer, map.heat, map.lineLayer, map.unitLayer, map.incidentLayer].filter(Boolean);
}

// the Replay button of the incident's detail view
export function replayButton(id) {
  return el("button", { id: "replay-open", onclick: () => openReplay(id) }, "▶ ", bi(REPLAY.title));
}

export async function openReplay(id) {
  if (!state.map) return;
  showError(null);
  let data;
  try {
    data = await api("GET", `/api/v1/incidents/${id}/replay`);
  } catch (err) {
    showError(err);
    return;
  }
  if (state.selected !== id) return; // another incident was chosen meanwhile
  closeReplay();
  const map = state.map.map;
  for (const layer of liveLayers(state.map)) layer.remove();
  state.replay = id;
  const layer = L.layerGroup().addTo(map);
  player = { data, t: data.start_ms, speed: SPEEDS[2], playing: false, last: 0, frame: 0, layer, units: new Map(), marks: new Map() };
  drawScene(layer, data.incident);
  data.units.forEach((u, n) => {
    const colour = COLOURS[n % COLOURS.length];
    const trail = L.polyline([], { color: colour, weight: 4, opacity: 0.85, className: "replay-trail", interactive: false }).addTo(layer);
    const marker = L.circleMarker([0, 0], { radius: 9, color: "#0b1220", weight: 2, fillColor: colour, fillOpacity: 0.95, className: "replay-unit" });
    marker.bindTooltip(u.callsign, { permanent: true, direction: "right", offset: [8, 0], className: "unit-label replay-label" });
    player.units.set(u.unit_id, { unit: u, trail, marker });
  });
  const panel = buildPanel(data);
  $(".map-panel").append(panel);
  // the view is the replay's: fitted once to its scene and trails, clear of the panel, and no longer
  // refitted to the live picture when the page resizes (OpsMap leaves a map moved by hand alone)
  player.userMoved = state.map.userMoved;
  state.map.userMoved = true;
  const points = extent(data);
  if (points.length) {
    map.fitBounds(L.latLngBounds(points).pad(0.1), {
      paddingTopLeft: [30, 30], paddingBottomRight: [30, panel.offsetHeight + 30], maxZoom: 17, animate: false,
    });
  }
  show(data.start_ms);
}

function drawScene(layer, incident) {
  if (incident.lat === null || incident.lat === undefined) return;
  const html = `<div class="incident replay-scene p${incident.priority}" data-replay-scene="${incident.id}"
    style="--c:${PRIORITY_COLOUR[incident.priority] || "#ef4444"}"><b>P${incident.priority}</b></div>`;
  L.marker([incident.lat, incident.lon], {
    icon: L.divIcon({ className: "incident-icon", html, iconSize: [36, 36], iconAnchor: [18, 18] }),
    zIndexOffset: 1000, interactive: false,
  }).bindTooltip(`#${incident.id} ${categoryLabel(incident.category)[0]}`, {
    permanent: true, direction: "bottom", offset: [0, 14], className: "incident-label",
  }).addTo(layer);
}

function buildPanel(data) {
  const speed = el("select", { id: "replay-speed", "aria-label": text(REPLAY.speed), onchange: (ev) => (player.speed = Number(ev.target.value)) },
    ...SPEEDS.map((s) => el("option", { value: s, selected: s === player.speed }, `${s}x`)));
  const scrub = el("input", {
    id: "replay-scrub", type: "range", min: data.start_ms, max: data.end_ms, step: 1, value: data.start_ms,
    "aria-label": text(REPLAY.time),
    oninput: (ev) => {
      pause();
      show(Number(ev.target.value));
    },
    // the arrow keys step a hundredth of the span (the range's own step is a millisecond)
    onkeydown: (ev) => {
      const sign = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 }[ev.key];
      if (!sign) return;
      ev.preventDefault();
      pause();
      show(player.t + (sign * (data.end_ms - data.start_ms)) / 100);
    },
  });
  const unitNames = new Map(data.units.map((u) => [u.unit_id, u.callsign]));
  const events = el("ol", { id: "replay-events", class: "timeline replay-events" }, ...data.events.map((e, n) =>
    el("li", { dataset: { kind: e.kind, at: e.at_ms, index: n, passed: "0" } },
      el("time", {}, clock(e.at)),
      bi(EVENTS[e.kind] || [e.kind, ""]),
      e.unit_id ? el("span", { class: "callsign" }, (e.data && e.data.callsign) || unitNames.get(e.unit_id) || `#${e.unit_id}`) : null)));
  return el("section", { id: "replay", class: "replay", dataset: { incident: data.incident.id, state: "paused" } },
    el("div", { class: "replay-bar" },
      el("strong", {}, bi(REPLAY.title), ` #${data.incident.id}`),
      el("button", { id: "replay-play", class: "primary", onclick: toggle }, bi(REPLAY.play)),
      el("label", { class: "inline" }, bi(REPLAY.speed), speed),
      el("span", { id: "replay-clock", class: "replay-clock" }),
      el("button", { id: "replay-close", onclick: closeReplay }, "✕ ", bi(REPLAY.close))),
    scrub,
    data.units.every((u) => !u.fixes.length) ? el("p", { class: "muted" }, bi(REPLAY.empty)) : null,
    events);
}

// draw the replay at time t
function show(t) {
  const { data } = player;
  player.t = clamp(t, data.start_ms, data.end_ms);
  const now = player.t;
  for (const { unit, trail, marker } of player.units.values()) {
    const drawn = trailAt(unit.fixes, now);
    trail.setLatLngs(drawn.points);
    const here = positionAt(unit.fixes, now);
    if (here) {
      marker.setLatLng(here);
      if (!player.layer.hasLayer(marker)) marker.addTo(player.layer);
    } else if (player.layer.hasLayer(marker)) {
      marker.remove();
    }
    label(trail.getElement(), { unit: unit.unit_id, callsign: unit.callsign, fixes: drawn.fixes, points: drawn.points.length });
    label(marker.getElement(), here ? { unit: unit.unit_id, callsign: unit.callsign, lat: here[0].toFixed(7), lon: here[1].toFixed(7) } : {});
  }
  drawMarks(marksAt(data, now));
  const passed = eventsPassed(data.events, now);
  const items = document.querySelectorAll("#replay-events li");
  items.forEach((li, n) => {
    li.dataset.passed = n < passed ? "1" : "0";
    li.classList.toggle("passed", n < passed);
    li.classList.toggle("current", n === passed - 1);
  });
  const scrub = $("#replay-scrub");
  if (scrub && Number(scrub.value) !== Math.round(now)) scrub.value = String(Math.round(now));
  const box = $("#replay");
  if (box) box.dataset.t = String(Math.round(now));
  const shown = $("#replay-clock");
  if (shown) shown.textContent = `${clock(now / 1000)} · +${duration((now - data.start_ms) / 1000)} / ${duration((data.end_ms - data.start_ms) / 1000)}`;
}

function label(node, fields) {
  if (!node) return;
  for (const [k, v] of Object.entries(fields)) node.dataset[k] = String(v);
}

function drawMarks(marks) {
  const seen = new Set();
  for (const m of marks) {
    const key = `${m.kind}:${m.assignment}`;
    seen.add(key);
    if (player.marks.has(key)) continue;
    const name = player.units.get(m.unit_id)?.unit.callsign || `#${m.unit_id}`;
    const words = REPLAY[m.kind];
    const mark = L.circleMarker(m.where, {
      radius: 5, color: m.kind === "offered" ? "#f59e0b" : "#c026d3", weight: 3, fill: false,
      className: `replay-mark replay-${m.kind}`, interactive: false,
    }).bindTooltip(`${words[0]} ${words[1]} ${name} ${clock(m.at / 1000)}`, {
      permanent: true, direction: m.kind === "offered" ? "left" : "top", className: "replay-mark-label",
    }).addTo(player.layer);
    label(mark.getElement(), { kind: m.kind, unit: m.unit_id });
    player.marks.set(key, mark);
  }
  for (const [key, mark] of player.marks) {
    if (!seen.has(key)) {
      mark.remove();
      player.marks.delete(key);
    }
  }
}

function toggle() {
  if (player.playing) {
    pause();
    return;
  }
  if (player.t >= player.data.end_ms) show(player.data.start_ms); // from the start again
  player.playing = true;
  player.last = performance.now();
  setPlaying(true);
  player.frame = requestAnimationFrame(tick);
}

function tick(now) {
  if (!player || !player.playing) return;
  const t = advance(player.t, now - player.last, player.speed, player.data.end_ms);
  player.last = now;
  show(t);
  if (t >= player.data.end_ms) {
    pause();
    $("#replay").dataset.state = "ended";
    return;
  }
  player.frame = requestAnimationFrame(tick);
}

function pause() {
  if (!player) return;
  player.playing = false;
  cancelAnimationFrame(player.frame);
  setPlaying(false);
}

function setPlaying(on) {
  const box = $("#replay");
  if (box) box.dataset.state = on ? "playing" : "paused";
  const button = $("#replay-play");
  if (button) button.replaceChildren(bi(on ? REPLAY.pause : REPLAY.play));
}

// back to the live view: the replay's layers and panel go, the live layers come back
export function closeReplay() {
  if (!player) return;
  pause();
  player.layer.remove();
  state.map.userMoved = player.userMoved;
  player = null;
  const box = $("#replay");
  if (box) box.remove();
  state.replay = null;
  for (const layer of liveLayers(state.map)) layer.addTo(state.map.map);
  state.map.fit(state.picture, { force: true });
  hooks.renderMap();
}

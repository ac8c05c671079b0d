// /unit: a patrol unit's phone. Shares its position on /ws/unit, receives offers with sound and vibration,
// accepts, declines, reports arrival and clearance, and shows where the incident is.

import { gridLayer, hasLeaflet, streetLayer } from "./map.js";
import { ahead, alongRoute } from "./routes.js";
import { config, logout, requireLogin, whoami } from "./session.js";
import { Socket } from "./socket.js";
import { FAST_SEND_MS, PanicButton } from "./unit-panic.js";
import { ACTIVE, SELF_REPORTABLE } from "./statuses.js";
import {
  ASSIGNMENT_STATUS, PRIORITY_COLOUR, UNIT_STATUS, audioContext, beep, bi, categoryLabel, clock, duration, el,
  kindLabel, metres,
} from "./labels.js";

const cfg = config();
const $ = (sel) => document.querySelector(sel);
// the statuses a unit sets itself, in the order of labels.js (available first, out of service last)
const SELF = Object.keys(UNIT_STATUS).filter((s) => SELF_REPORTABLE.has(s));
const OFFERS_KEY = "dispatch.offers"; // what the offer said about each incident, for after a reload
// a fix the center took but does not use is a warning: the crew must know the map may be wrong
const VERDICT_WARNINGS = {
  old: "⚠ 位置未更新：不比上次新 Not newer than the last position: the center ignored it",
  suspect: "⚠ 位置可疑：跳动过大 An implausible jump: not trusted for dispatch until it settles",
};
const SEND_EVERY_MS = 5000;
const SEND_AGAIN_MS = 30000;
const MOVED_M = 15;

let me = null;
const assignments = new Map();
let link = null;
let fix = null; // the latest GeolocationPosition
let sent = null; // {lat, lon, at} last sent
let alerting = null;
let map = null;
let panic = null; // the panic button (unit-panic.js)
const layers = {};

function offers() {
  try {
    return JSON.parse(sessionStorage.getItem(OFFERS_KEY) || "{}");
  } catch {
    return {};
  }
}

function remember(assignmentId, incident) {
  const all = offers();
  all[assignmentId] = incident;
  sessionStorage.setItem(OFFERS_KEY, JSON.stringify(all));
}

function distanceM(a, b) {
  const rad = Math.PI / 180;
  const h = Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

function showError(message) {
  $("#error").textContent = message || "";
}

// ---- the socket ------------------------------------------------------------------------------------

// /ws/unit on the shared socket base (auth, backoff, the silence watchdog, close codes): a hello, then
// this unit's events; each message sent carries a `ref`, answered by an ack or an error with the same one
class UnitLink extends Socket {
  constructor(token) {
    super({
      path: "/ws/unit", token, onStatus: setConn,
      onRefused: (reason) => {
        showError(`连接被拒绝 Refused: ${reason}`);
        if (/expired|invalid|signature/i.test(reason)) logout();
      },
    });
    this.ref = 0;
    this.waiting = new Map();
  }

  handle(frame) {
    if (frame.type === "hello") {
      this.live();
      onHello(frame);
    } else if (frame.type === "event") {
      onEvent(frame);
    } else if (frame.type === "incident_update") {
      onIncidentUpdate(frame);
    } else if (frame.type === "ack" || frame.type === "error") {
      const pending = this.waiting.get(frame.ref);
      if (pending) {
        this.waiting.delete(frame.ref);
        pending(frame);
      } else if (frame.type === "error") {
        showError(frame.reason);
      }
    } // a ping only keeps the watchdog quiet
  }

  dropped() {
    for (const pending of this.waiting.values()) pending({ type: "error", reason: "连接中断 connection lost", retry: true });
    this.waiting.clear();
  }

  // send a message; resolves with the center's ack or error for it
  request(message) {
    if (!this.open) return Promise.resolve({ type: "error", reason: "未连接 not connected", retry: true });
    const ref = ++this.ref;
    return new Promise((resolve) => {
      this.waiting.set(ref, resolve);
      this.send({ ...message, ref });
    });
  }
}

function setConn(state) {
  $("#conn").dataset.state = state;
  const words = { connecting: ["连接中", ""], live: ["在线", "online"], offline: ["离线", "offline"], refused: ["被拒绝", "refused"] }[state];
  $("#conn").replaceChildren(bi(words || [state, ""]));
}

function onHello(frame) {
  me = frame.unit;
  assignments.clear();
  for (const a of frame.assignments || []) assignments.set(a.id, a);
  panic.fromHello(frame.panic);
  sendPosition(); // a fix the center already has is not sent again (it would answer "old")
  render();
}

function onEvent(ev) {
  const d = ev.data || {};
  if (ev.kind.startsWith("assignment.")) {
    const a = { ...d, id: ev.assignment_id, incident_id: ev.incident_id, unit_id: ev.unit_id };
    if (d.incident) remember(a.id, { ...d.incident, id: ev.incident_id });
    if (ACTIVE.has(a.status)) assignments.set(a.id, a);
    else assignments.delete(a.id);
    if (ev.kind === "assignment.offered") alertOffer();
    if (ev.kind === "assignment.cancelled" || ev.kind === "assignment.timed_out") {
      showError(ev.kind === "assignment.cancelled" ? "任务已被调度员取消 The dispatcher stood you down" : "任务超时，已改派 The offer timed out and went to another unit");
    }
  } else if (ev.kind === "unit.status_changed" && me) {
    me.status = d.to;
  } else if (ev.kind.startsWith("unit.panic")) {
    panic.onEvent(ev);
  }
  render();
}

// an incident this unit is on changed (corrected, another unit sent or stood down, merged, closed):
// shown, and read aloud where the browser can speak
function onIncidentUpdate(update) {
  const all = offers();
  for (const [id, incident] of Object.entries(all)) {
    if (incident.id !== update.incident_id) continue;
    for (const [field, change] of Object.entries(update.changes || {})) incident[field] = change.to;
    all[id] = incident;
  }
  sessionStorage.setItem(OFFERS_KEY, JSON.stringify(all));
  $("#news").textContent = update.text;
  speak(update.text);
  render();
}

function speak(text) {
  if (!("speechSynthesis" in window)) return;
  const words = new SpeechSynthesisUtterance(text);
  const voice = speechSynthesis.getVoices().find((v) => v.lang.startsWith("zh"));
  if (voice) words.voice = voice;
  words.lang = voice ? voice.lang : "zh-CN";
  speechSynthesis.speak(words);
}

// ---- offers: sound and vibration until answered ----------------------------------------------------

function alertOffer() {
  stopAlert();
  let rounds = 0;
  const ring = () => {
    const offered = [...assignments.values()].some((a) => a.status === "offered");
    if (!offered || rounds++ >= 15) return stopAlert();
    const audible = beep([[1046, 220], [0, 90], [1318, 220], [0, 90], [1046, 320]]);
    if (!audible) $("#enable-sound").hidden = false;
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 600]);
  };
  ring();
  alerting = setInterval(ring, 2500);
}

function stopAlert() {
  if (alerting) clearInterval(alerting);
  alerting = null;
  if (navigator.vibrate) navigator.vibrate(0);
}

async function step(kind, a) {
  showError("");
  stopAlert();
  const reply = await link.request({ type: kind, assignment_id: a.id });
  if (reply.type === "error") {
    showError(`${reply.reason}${reply.current ? ` (${reply.current})` : ""}`);
    return;
  }
  if (reply.assignment) {
    const next = { ...a, ...reply.assignment };
    if (ACTIVE.has(next.status)) assignments.set(next.id, next);
    else assignments.delete(next.id);
  }
  render();
}

async function setStatus(status) {
  showError("");
  const reply = await link.request({ type: "status", status });
  if (reply.type === "error") showError(`${reply.reason}${reply.allowed ? ` · 可选 allowed: ${reply.allowed.join(", ")}` : ""}`);
  else if (me) me.status = reply.status;
  render();
}

// ---- position --------------------------------------------------------------------------------------

function watchPosition() {
  if (!navigator.geolocation) {
    renderGps("此设备不能定位 This device cannot share its position");
    return;
  }
  navigator.geolocation.watchPosition(
    (pos) => {
      fix = pos;
      sendPosition();
      renderGps();
      renderMap();
    },
    (err) => renderGps(`无法定位 Position unavailable: ${err.message} — 请允许定位 allow location`),
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 },
  );
  setInterval(() => sendPosition(), FAST_SEND_MS); // sendPosition keeps to the rate of the moment
}

async function sendPosition() {
  if (!fix || !link || !link.open) return;
  const here = { lat: fix.coords.latitude, lon: fix.coords.longitude, at: fix.timestamp / 1000 };
  const now = Date.now();
  const fast = panic && panic.fast(); // an officer in trouble: where they are, every 2 s
  if (sent) {
    const moved = distanceM(sent, here);
    const fresh = here.at > sent.at;
    if (!fresh) {
      if (now - sent.sentAt < (fast ? FAST_SEND_MS : SEND_AGAIN_MS)) return;
      here.at = now / 1000; // still here: say so, with a fix time that moves on
    } else if (moved < MOVED_M && now - sent.sentAt < (fast ? FAST_SEND_MS : SEND_EVERY_MS)) {
      return;
    }
  }
  sent = { ...here, sentAt: now };
  const reply = await link.request({ type: "position", ...here });
  if (reply.type === "ack") sent.verdict = reply.verdict;
  else {
    sent.verdict = `error: ${reply.reason}`;
    if (reply.retry) sent = null; // not taken: send it again next time
  }
  renderGps();
}

// ---- rendering -------------------------------------------------------------------------------------

function renderGps(problem) {
  const box = $("#gps");
  if (problem) {
    box.replaceChildren(el("p", { class: "gps-bad" }, problem));
    return;
  }
  if (!fix) {
    box.replaceChildren(el("p", { class: "muted" }, "等待定位 Waiting for a position fix…"));
    return;
  }
  const verdict = (sent && sent.verdict) || "";
  const warning = VERDICT_WARNINGS[verdict];
  const state = !verdict || verdict === "ok" ? "gps-ok" : warning ? "gps-warn" : "gps-bad";
  box.replaceChildren(el("p", { class: state, dataset: { verdict } },
    "位置共享中 Sharing position · ",
    `±${Math.round(fix.coords.accuracy)} m`,
    sent ? ` · 已发送 sent ${clock(sent.sentAt / 1000)}` : "",
    warning ? el("br") : "", warning || (state === "gps-bad" ? ` (${verdict})` : "")));
}

// what the offer said about the incident (the socket's hello may carry it too, as `incident`)
function incidentOf(a) {
  return a.incident || offers()[a.id] || { id: a.incident_id };
}

function incidentCard(a, inc) {
  const here = fix ? { lat: fix.coords.latitude, lon: fix.coords.longitude } : null;
  const far = here && inc.lat !== undefined ? distanceM(here, inc) : a.distance_m;
  return el("div", { class: "inc-card" },
    el("div", { class: "inc-top" },
      inc.priority ? el("span", { class: "prio", style: `--c:${PRIORITY_COLOUR[inc.priority]}` }, `P${inc.priority}`) : null,
      el("div", {},
        el("h2", {}, `#${a.incident_id} `, inc.category ? bi(categoryLabel(inc.category)) : ""),
        el("p", { class: "addr" }, inc.address || (inc.lat !== undefined ? `${inc.lat.toFixed(5)}, ${inc.lon.toFixed(5)}` : "")))),
    el("p", { class: "facts", dataset: { road: a.route ? "1" : "0" } },
      `距离 ${metres(far)} distance`,
      ...roadFacts(a, here, inc)));
}

// by road: the route's distance and ETA still ahead from the latest fix (the route's share of it)
function roadFacts(a, here, inc) {
  const there = inc.lat !== undefined ? [inc.lat, inc.lon] : null;
  const left = ahead(a.route, here ? [here.lat, here.lon] : null, there);
  if (!left) return [a.travel_s ? ` · 预计 ${duration(a.travel_s)} ETA` : ""];
  return [` · 道路 ${metres(left.metres)} by road`, ` · 预计 ${duration(left.seconds)} ETA`];
}

function render() {
  if (me) {
    $("#callsign").textContent = me.callsign;
    $("#kind").textContent = kindLabel(me.kind).join(" ");
    const s = UNIT_STATUS[me.status] || [me.status, "", "#64748b"];
    const node = $("#status");
    node.style.setProperty("--c", s[2]);
    node.dataset.status = me.status;
    node.replaceChildren(bi([s[0], s[1]]));
  }
  const list = [...assignments.values()].sort((a, b) => a.id - b.id);
  const offered = list.find((a) => a.status === "offered");
  const working = list.find((a) => a.status !== "offered");
  const offer = $("#offer");
  offer.hidden = !offered;
  if (offered) {
    const inc = incidentOf(offered);
    offer.dataset.assignment = offered.id;
    offer.replaceChildren(...[
      el("p", { class: "flash" }, "新任务 New assignment"),
      incidentCard(offered, inc),
      offered.offer_deadline ? el("p", { class: "deadline", dataset: { deadline: offered.offer_deadline } }) : null,
      el("div", { class: "two" },
        el("button", { class: "accept", id: "accept", onclick: () => step("accept", offered) }, bi(["接受", "Accept"])),
        el("button", { class: "decline", id: "decline", onclick: () => step("decline", offered) }, bi(["拒绝", "Decline"]))),
    ].filter(Boolean));
  } else {
    stopAlert();
  }
  const task = $("#task");
  task.hidden = !working;
  if (working) {
    const inc = incidentOf(working);
    task.dataset.assignment = working.id;
    task.dataset.status = working.status;
    const arrived = working.status === "on_scene";
    task.replaceChildren(
      el("p", { class: "task-status" }, bi(ASSIGNMENT_STATUS[working.status] || [working.status, ""])),
      incidentCard(working, inc),
      arrived
        ? el("button", { class: "clear big", id: "clear", onclick: () => step("clear", working) }, bi(["处置完毕", "Clear"]))
        : el("button", { class: "arrive big", id: "arrive", onclick: () => step("arrive", working) }, bi(["到达现场", "Arrived"])),
    );
  }
  $("#idle").hidden = Boolean(offered || working);
  $("#self-status").replaceChildren(...SELF.map((s) =>
    el("button", {
      class: me && me.status === s ? "on" : "", dataset: { status: s }, style: `--c:${UNIT_STATUS[s][2]}`,
      onclick: () => setStatus(s),
    }, bi([UNIT_STATUS[s][0], UNIT_STATUS[s][1]]))));
  tick();
  renderMap();
}

function tick() {
  for (const node of document.querySelectorAll("[data-deadline]")) {
    const left = (Date.parse(node.dataset.deadline) - Date.now()) / 1000;
    node.textContent = `请在 ${duration(Math.max(0, left))} 内应答 · answer within ${duration(Math.max(0, left))}`;
  }
}

function renderMap() {
  if (!map) return;
  const here = fix ? [fix.coords.latitude, fix.coords.longitude] : null;
  const current = [...assignments.values()].find((a) => incidentOf(a).lat !== undefined);
  const target = current ? incidentOf(current) : undefined;
  const there = target ? [target.lat, target.lon] : null;
  const place = (name, latlng, make) => {
    if (!latlng) {
      if (layers[name]) layers[name].remove();
      delete layers[name];
      return;
    }
    if (!layers[name]) layers[name] = make(latlng).addTo(map);
    else if (layers[name].setLatLng) layers[name].setLatLng(latlng);
  };
  place("me", here, (p) => L.circleMarker(p, { radius: 10, color: "#0b1220", weight: 3, fillColor: "#3b82f6", fillOpacity: 1 }));
  if (layers.target && (!there || layers.target.key !== String(there))) {
    layers.target.remove();
    delete layers.target;
  }
  place("target", there, (p) => {
    const m = L.marker(p, {
      icon: L.divIcon({
        className: "incident-icon", iconSize: [36, 36], iconAnchor: [18, 18],
        html: `<div class="incident" style="--c:${PRIORITY_COLOUR[target.priority] || "#ef4444"}"><b>P${target.priority || "?"}</b></div>`,
      }),
    });
    m.key = String(p);
    return m;
  });
  if (layers.line) layers.line.remove();
  const route = current && current.route;
  const start = here || (route && route.geometry && route.geometry[0]);
  layers.line = start && there
    ? L.polyline(alongRoute(route, start, there), {
        color: "#60a5fa", weight: 4, dashArray: route ? null : "8 8", className: route ? "route road" : "route",
      }).addTo(map)
    : null;
  const points = [start, there].filter(Boolean);
  const key = points.map(String).join("|");
  if (points.length && key !== layers.fitKey) {
    layers.fitKey = key;
    if (points.length === 2) map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 16 });
    else map.setView(points[0], Math.max(map.getZoom(), 15));
  }
}

async function main() {
  const { token, claims } = await requireLogin({ roles: ["unit"], title: "出警终端 · Unit" });
  if (!claims.unit) {
    showError("此令牌未绑定警力 This token names no unit");
    return;
  }
  whoami($("#who"), claims);
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") $("#enable-sound").hidden = false;
  $("#enable-sound").addEventListener("click", () => {
    const c = audioContext();
    if (c) c.resume().then(() => ($("#enable-sound").hidden = c.state === "running"));
    beep([[880, 120]]);
  });
  if (hasLeaflet()) {
    map = L.map($("#map"), { zoomControl: false, attributionControl: Boolean(cfg.tile_url) }).setView([31.2304, 121.4737], 13);
    if (cfg.tile_url) L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution || "", maxZoom: 19 }).addTo(map);
    gridLayer("#5b7aa6").addTo(map);
    if (cfg.streets) streetLayer(map, "#8aa4c8");
    new ResizeObserver(() => map.invalidateSize()).observe($("#map"));
  }
  panic = new PanicButton($("#panic"), {
    request: (message) => link.request(message),
    here: () => (fix ? { lat: fix.coords.latitude, lon: fix.coords.longitude } : null),
    onChange: () => sendPosition(),
  });
  link = new UnitLink(token).start();
  watchPosition();
  renderGps();
  render();
  setInterval(tick, 1000);
}

main();

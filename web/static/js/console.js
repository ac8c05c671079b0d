// /console: the dispatcher's queue, the recommendation confirmed in one click, overrides, reassignments,
// related calls, closing, the timeline, and alarms for timed-out offers and incidents nobody can serve.
// This file wires the panels: console-queue.js, console-detail.js (the incident, its units, calls and
// timeline), console-recommend.js (the recommendation and sending), console-alarms.js, console-replay.js
// (an incident played back on the map), the map, the feed.

import { OpsFeed } from "./ops.js";
import { UNSERVED } from "./statuses.js";
import { OpsMap, hasLeaflet } from "./map.js";
import { api, config, logout, requireLogin, whoami } from "./session.js";
import { audioContext, beep, bi } from "./labels.js";
import { $, hooks, later, state, tickAges } from "./console-common.js";
import { alarmsFrom, calendarAlarm, pendingAlarm, renderAlarms } from "./console-alarms.js";
import { loadDetail, loadRecommendation, movesSelected, renderAssignments, select } from "./console-detail.js";
import { renderSend } from "./console-recommend.js";
import { renderQueue } from "./console-queue.js";
import { PanicAlarm } from "./panic-alarm.js";

const cfg = config();

function setConn(conn) {
  const words = {
    connecting: ["连接中", "connecting"], live: ["实时", "live"], offline: ["已断开 重连中", "offline, reconnecting"],
    refused: ["被拒绝", "refused"],
  }[conn] || [conn, ""];
  $("#conn").dataset.state = conn;
  $("#conn").replaceChildren(bi(words));
}

function renderMap() {
  const { map, picture, selected, recommendation } = state;
  if (!map || state.replay !== null) return; // a replay has the map: the live layers wait for its close
  const incident = selected !== null ? picture.incidents.get(selected) : null;
  const waiting = incident && UNSERVED.has(incident.status);
  const picks = waiting && recommendation && recommendation.picks ? recommendation.picks.map((p) => p.unit_id) : [];
  map.render(picture, { selected, highlight: picks });
  map.fit(picture);
  state.panic.follow(map); // last: an officer in trouble keeps the view
}

// ---- the feed --------------------------------------------------------------------------------------

function onSnapshot(snapshot) {
  state.picture.load(snapshot);
  state.panic.load(snapshot.panics);
  calendarAlarm(snapshot.calendar);
  for (const i of state.picture.incidents.values()) {
    if (i.status === "pending") pendingAlarm(i.id);
  }
  if (state.map) state.map.reset();
  refreshAll();
}

function onEvent(ev) {
  const changed = state.picture.apply(ev);
  alarmsFrom(ev);
  if (state.panic.apply(ev)) later("map", renderMap, ev.kind === "units.moved" ? 300 : 50);
  if (ev.kind === "units.moved") {
    later("map", renderMap, 300);
    if (movesSelected(ev)) later("eta", renderAssignments, 300);
    return;
  }
  if (state.selected !== null && ev.incident_id === state.selected) {
    later("detail", hooks.reload, 200);
  } else if (state.selected !== null && changed.units) {
    later("rec", () => { loadRecommendation(); renderSend(); }, 800);
  }
  later("all", refreshAll, 100);
}

function refreshAll() {
  renderQueue();
  renderAlarms();
  renderMap();
}

async function main() {
  hooks.select = select;
  hooks.reload = () => Promise.all([loadDetail(), loadRecommendation()]);
  hooks.renderMap = renderMap;
  const { token, claims } = await requireLogin({
    roles: ["dispatcher", "call_taker", "display"],
    title: "调度台 · Dispatcher console",
  });
  state.canDispatch = claims.role === "dispatcher" || claims.role === "admin";
  state.canReplay = ["dispatcher", "display", "admin"].includes(claims.role); // who may read a replay
  document.body.dataset.role = claims.role;
  state.panic = new PanicAlarm($("#panics"), {
    onSelect: select,
    onAcknowledge: state.canDispatch
      ? (p) => api("POST", `/api/v1/units/${p.unit_id}/panic/acknowledge`).catch((err) => ($("#panics").title = err.shown || String(err)))
      : null,
  });
  whoami($("#who"), claims);
  $("#sound").addEventListener("click", () => {
    const ctx = audioContext();
    if (ctx) ctx.resume();
    beep([[660, 120]]);
  });
  if (hasLeaflet()) {
    state.map = new OpsMap($("#map"), cfg, { labels: true, heat: false, onIncident: select });
  } else {
    $("#map-note").hidden = false;
    $("#map-note").textContent = "地图库未安装 The map library is not installed: run ./run up";
  }
  new OpsFeed({
    token, onSnapshot, onEvent, onStatus: setConn,
    onAuthFailed: (reason) => {
      if (/expired|invalid|signature/i.test(reason)) logout();
    },
  }).start();
  setInterval(tickAges, 1000);
}

main();

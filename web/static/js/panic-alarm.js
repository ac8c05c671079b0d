// The panic alarm on the console and the wall: one banner per open panic (a colour of its own, a siren
// until a dispatcher acknowledges), and the unit followed on the map with its trail as it moves. The
// open panics come with the /ws/ops snapshot and move on with its events (unit.panic, .._acknowledged,
// .._cancelled; an incident closed ends its panic).

import { PANIC, beep, bi, clock, el } from "./labels.js";
import { api } from "./session.js";

const SIREN_EVERY_MS = 1500;
const TRAIL_POINTS = 500; // per panic: enough for a long chase, bounded

export class PanicAlarm {
  // box: where the banners go; onAcknowledge(panic) when the viewer may acknowledge (dispatchers);
  // onSelect(incidentId) to open the incident
  constructor(box, { onAcknowledge = null, onSelect = null } = {}) {
    this.box = box;
    this.onAcknowledge = onAcknowledge;
    this.onSelect = onSelect;
    this.panics = new Map(); // unit id -> panic, with its trail [[lat, lon], ...]
    this.siren = null;
    this.layer = null;
  }

  load(list) {
    this.panics.clear();
    for (const p of list || []) {
      this.add(p);
      this.loadTrail(p);
    }
    this.render();
  }

  add(p) {
    const known = this.panics.get(p.unit_id);
    const trail = known && known.id === p.id ? known.trail : [[p.lat, p.lon]];
    this.panics.set(p.unit_id, { ...p, trail });
  }

  // the stored positions since the panic, for a screen that opens in the middle of one
  async loadTrail(p) {
    try {
      const since = encodeURIComponent(p.raised_at);
      const found = await api("GET", `/api/v1/units/${p.unit_id}/positions?since=${since}&limit=${TRAIL_POINTS}`);
      const now = this.panics.get(p.unit_id);
      if (!now || now.id !== p.id) return;
      now.trail = [[p.lat, p.lon], ...found.fixes.map((f) => [f.lat, f.lon]), ...now.trail.slice(1)].slice(-TRAIL_POINTS);
    } catch {
      // a role that may not read trails (a call taker) sees the trail from now on
    }
  }

  // the units whose panic this incident is
  unitsOf(incidentId) {
    return new Set([...this.panics.values()].filter((p) => p.incident_id === incidentId).map((p) => p.unit_id));
  }

  // one event from the feed; true when it changed the panics
  apply(ev) {
    const d = ev.data || {};
    if (ev.kind === "unit.panic") {
      this.add(d);
    } else if (ev.kind === "unit.panic_acknowledged" && this.panics.has(ev.unit_id)) {
      Object.assign(this.panics.get(ev.unit_id), { acknowledged_at: d.acknowledged_at, acknowledged_by: d.acknowledged_by });
    } else if (ev.kind === "unit.panic_cancelled") {
      this.panics.delete(ev.unit_id);
    } else if (ev.kind === "incident.closed" || ev.kind === "incident.merged") {
      for (const [unitId, p] of this.panics) if (p.incident_id === ev.incident_id) this.panics.delete(unitId);
    } else if (ev.kind === "units.moved") {
      let moved = false;
      for (const pos of ev.positions || []) {
        const p = this.panics.get(pos.unit_id);
        if (!p) continue;
        p.trail.push([pos.lat, pos.lon]);
        if (p.trail.length > TRAIL_POINTS) p.trail.shift();
        moved = true;
      }
      return moved;
    } else {
      return false;
    }
    this.render();
    return true;
  }

  render() {
    const list = [...this.panics.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
    this.box.hidden = list.length === 0;
    this.box.replaceChildren(...list.map((p) => this.banner(p)));
    const loud = list.some((p) => !p.acknowledged_at);
    if (loud && !this.siren) {
      this.sound();
      this.siren = setInterval(() => this.sound(), SIREN_EVERY_MS);
    } else if (!loud && this.siren) {
      clearInterval(this.siren);
      this.siren = null;
    }
  }

  sound() {
    beep([[1400, 180], [900, 180], [1400, 180], [900, 180]]);
  }

  banner(p) {
    const seen = Boolean(p.acknowledged_at);
    const here = p.trail[p.trail.length - 1];
    return el("div", {
      class: `panic-alarm${seen ? " seen" : ""}`, role: "alert",
      dataset: { alarm: "panic", unit: p.unit_id, incident: p.incident_id, acknowledged: seen ? "1" : "0" },
    },
      el("span", { class: "icon" }, "🚨"),
      el("b", { class: "callsign" }, p.callsign),
      bi(PANIC.title),
      el("time", {}, clock(p.raised_at)),
      this.onSelect
        ? el("button", { class: "link", onclick: () => this.onSelect(p.incident_id) }, `#${p.incident_id}`)
        : el("span", { class: "ref" }, `#${p.incident_id}`),
      el("span", { class: "where" }, here ? `${here[0].toFixed(5)}, ${here[1].toFixed(5)}` : bi(PANIC.no_fix)),
      seen
        ? el("span", { class: "seen-by" }, bi(PANIC.seen), ` ${p.acknowledged_by || ""}`)
        : this.onAcknowledge && el("button", { class: "ack", onclick: () => this.onAcknowledge(p) }, bi(PANIC.acknowledge)));
  }

  // the trails on the map, and the view kept on the newest panic's unit (where it is now)
  follow(opsMap) {
    if (!opsMap) return;
    const map = opsMap.map;
    if (!this.layer) this.layer = L.layerGroup().addTo(map);
    this.layer.clearLayers();
    const list = [...this.panics.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
    for (const p of list) {
      L.polyline(p.trail, { color: "#ff2d95", weight: 4, className: "panic-trail" }).addTo(this.layer);
      const here = p.trail[p.trail.length - 1];
      L.circleMarker(here, { radius: 14, color: "#ff2d95", weight: 4, fillColor: "#ff2d95", fillOpacity: 0.35, className: "panic-mark" })
        .bindTooltip(p.callsign, { permanent: true, direction: "right", className: "panic-label" })
        .addTo(this.layer);
    }
    if (list.length) {
      const here = list[0].trail[list[0].trail.length - 1];
      map.setView(here, Math.max(map.getZoom(), 16), { animate: false });
    }
  }
}

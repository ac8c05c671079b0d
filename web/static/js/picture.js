// The operational picture kept by a page: units, open incidents, active assignments and recent incidents,
// built from the /ws/ops snapshot and moved forward by each delta. The KPI figures are recomputed from it
// the same way realtime/snapshot.py computes them, so the tiles stay live between snapshots.

import { staleAfter } from "./labels.js";
import { ACTIVE, AVAILABILITY, UNSERVED } from "./statuses.js";

export { ACTIVE, UNSERVED };

const WINDOW_S = 24 * 3600;

export function percentile(values, q) {
  if (!values.length) return null;
  const ordered = [...values].sort((a, b) => a - b);
  const rank = ((ordered.length - 1) * q) / 100;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return ordered[low] + (ordered[high] - ordered[low]) * (rank - low);
}

export class Picture {
  constructor() {
    this.units = new Map();
    this.incidents = new Map();
    this.assignments = new Map();
    this.recent = new Map(); // incident id -> {id, lat, lon, priority, received, toDispatch, toArrive}
    this.overdueByTown = {};
    this.windowS = WINDOW_S;
  }

  load(state) {
    this.units.clear();
    this.incidents.clear();
    this.assignments.clear();
    this.recent.clear();
    for (const u of state.units || []) this.units.set(u.id, this.unit(u));
    for (const i of state.incidents || []) this.incidents.set(i.id, i);
    for (const a of state.assignments || []) this.assignments.set(a.id, a);
    for (const [id, lat, lon, priority, received, toDispatch, toArrive] of state.recent || []) {
      this.recent.set(id, { id, lat, lon, priority, received, toDispatch, toArrive });
    }
    const kpi = state.kpi || {};
    this.overdueByTown = kpi.overdue_cases_by_town || {};
    if (kpi.window_s) this.windowS = kpi.window_s;
  }

  unit(row) {
    const u = { ...row };
    u.fixAt = row.fix_at ? Date.parse(row.fix_at) : null;
    u.staleMark = Boolean(row.stale);
    return u;
  }

  isStale(u, now = Date.now()) {
    if (u.lat === null || u.lat === undefined) return true;
    if (!u.fixAt) return u.staleMark;
    return now - u.fixAt > staleAfter(u.kind) * 1000;
  }

  // apply one delta; returns what changed: {units, incidents, assignments, moved}
  apply(ev) {
    const d = ev.data || {};
    const changed = { units: false, incidents: false, assignments: false, moved: false };
    const incident = ev.incident_id ? this.incidents.get(ev.incident_id) : undefined;
    const kind = ev.kind || "";
    if (kind === "units.moved") {
      for (const p of ev.positions || []) {
        const u = this.units.get(p.unit_id);
        if (!u) continue;
        u.lat = p.lat;
        u.lon = p.lon;
        u.fixAt = Date.parse(p.at);
      }
      changed.moved = true;
    } else if (kind === "unit.status_changed") {
      const u = this.units.get(ev.unit_id);
      if (u && d.to) {
        u.status = d.to;
        u.availability = AVAILABILITY[d.to];
        changed.units = true;
      }
    } else if (kind === "unit.registered") {
      this.units.set(ev.unit_id, this.unit({ ...d, availability: AVAILABILITY[d.status], stale: true }));
      changed.units = true;
    } else if (kind === "unit.changed") {
      const u = this.units.get(ev.unit_id);
      if (u) Object.assign(u, d.changes || {});
      changed.units = true;
    } else if (kind === "unit.retired") {
      this.units.delete(ev.unit_id);
      changed.units = true;
    } else if (kind === "incident.created") {
      const received = Date.parse(ev.at) / 1000;
      this.incidents.set(ev.incident_id, {
        id: ev.incident_id, category: d.category, priority: d.priority, status: d.status || "received",
        lat: d.lat, lon: d.lon, address: d.address, zone: d.zone || null, channel: d.channel,
        times: { received_at: ev.at }, intervals: {}, private: ev.private || null, fresh: Date.now(),
      });
      this.recent.set(ev.incident_id, {
        id: ev.incident_id, lat: d.lat, lon: d.lon, priority: d.priority, received, toDispatch: null, toArrive: null,
      });
      changed.incidents = true;
    } else if (kind === "incident.closed" || kind === "incident.merged") {
      this.incidents.delete(ev.incident_id);
      for (const [id, a] of this.assignments) if (a.incident_id === ev.incident_id) this.assignments.delete(id);
      if (kind === "incident.merged") this.recent.delete(ev.incident_id);
      changed.incidents = changed.assignments = true;
    } else if (kind === "incident.updated" && incident) {
      // a dispatcher's correction: the event carries the incident's new priority and place
      for (const field of ["priority", "lat", "lon", "address"]) if (field in d) incident[field] = d[field];
      changed.incidents = true;
    } else if (kind.startsWith("incident.") && incident && d.status) {
      incident.status = d.status;
      if ("shortfall" in d) incident.shortfall = d.shortfall;
      changed.incidents = true;
    } else if (kind === "alert.linked" && incident) {
      incident.alerts = (incident.alerts || 1) + 1;
      changed.incidents = true;
    } else if (kind.startsWith("assignment.")) {
      const a = { ...d, id: ev.assignment_id, incident_id: ev.incident_id, unit_id: ev.unit_id };
      if (ACTIVE.has(a.status)) this.assignments.set(a.id, a);
      else this.assignments.delete(a.id);
      if (incident) {
        if (d.incident_status) incident.status = d.incident_status;
        const times = (incident.times = incident.times || {});
        if (kind === "assignment.offered") times.dispatched_at = times.dispatched_at || ev.at;
        if (kind === "assignment.accepted") times.acknowledged_at = times.acknowledged_at || ev.at;
        if (kind === "assignment.on_scene") times.on_scene_at = times.on_scene_at || ev.at;
        const r = this.recent.get(incident.id);
        if (r && times.received_at) {
          const received = Date.parse(times.received_at);
          if (times.dispatched_at && r.toDispatch === null) r.toDispatch = (Date.parse(times.dispatched_at) - received) / 1000;
          if (times.on_scene_at && r.toArrive === null) r.toArrive = (Date.parse(times.on_scene_at) - received) / 1000;
        }
      }
      changed.assignments = changed.incidents = true;
    }
    return changed;
  }

  // incidents that still need a unit first, then those being handled, then grid cases (worked on the
  // grid ladder, not dispatched); within each, by priority, then oldest first
  queue() {
    const age = (i) => Date.parse((i.times && i.times.received_at) || 0);
    const group = (i) => (UNSERVED.has(i.status) ? 0 : i.status === "case" ? 2 : 1);
    return [...this.incidents.values()].sort((a, b) => group(a) - group(b) || a.priority - b.priority || age(a) - age(b));
  }

  assignmentsOf(incidentId) {
    return [...this.assignments.values()].filter((a) => a.incident_id === incidentId);
  }

  kpi(now = Date.now()) {
    const open = { 1: 0, 2: 0, 3: 0, 4: 0 };
    let unserved = 0;
    for (const i of this.incidents.values()) {
      open[i.priority] = (open[i.priority] || 0) + 1;
      if (UNSERVED.has(i.status)) unserved += 1;
    }
    const byKind = {};
    for (const u of this.units.values()) {
      const k = (byKind[u.kind] = byKind[u.kind] || { available: 0, committed: 0, unavailable: 0 });
      k[AVAILABILITY[u.status] || "unavailable"] += 1;
    }
    const since = now / 1000 - this.windowS;
    const toDispatch = [];
    const toArrive = [];
    for (const r of this.recent.values()) {
      if (r.received < since) continue;
      if (r.toDispatch !== null && r.toDispatch !== undefined) toDispatch.push(r.toDispatch);
      if (r.toArrive !== null && r.toArrive !== undefined) toArrive.push(r.toArrive);
    }
    const share = (limit) => (toArrive.length ? toArrive.filter((s) => s <= limit).length / toArrive.length : null);
    return {
      open, openTotal: Object.values(open).reduce((a, b) => a + b, 0), unserved, byKind,
      dispatch: { p50: percentile(toDispatch, 50), p90: percentile(toDispatch, 90), n: toDispatch.length },
      arrive: { p50: percentile(toArrive, 50), p90: percentile(toArrive, 90), n: toArrive.length },
      within3: share(180), within5: share(300), overdueByTown: this.overdueByTown,
    };
  }

  heatPoints(now = Date.now()) {
    const since = now / 1000 - this.windowS;
    const weight = { 1: 1, 2: 0.75, 3: 0.5, 4: 0.35 };
    return [...this.recent.values()].filter((r) => r.received >= since).map((r) => [r.lat, r.lon, weight[r.priority] || 0.5]);
  }
}

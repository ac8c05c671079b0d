// The map shared by the pages: Leaflet (served from /static/vendor/, never a CDN) on a plain background
// with a coordinate grid and the jurisdiction's zones drawn from the data, so that it works with no
// internet access; a tile server is used only when the center is configured with one.

import { PRIORITY_COLOUR, UNIT_STATUS, categoryLabel, kindLabel } from "./labels.js";
import { api } from "./session.js";
import { alongRoute } from "./routes.js";
import { ACTIVE, COMMITTED, UNSERVED } from "./statuses.js";

export const hasLeaflet = () => typeof window.L !== "undefined";
const DEFAULT_CENTRE = [31.2304, 121.4737];
const CROWDED = 40; // more units than this: only those on a job are named on the map
const MANY = 1500; // more units than this are drawn on a canvas, not as SVG elements
const ZONES_EVERY_MS = 10 * 60 * 1000; // zones are redrawn from where their units are this often
const GRID_STEPS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

export function gridLayer(colour) {
  const Grid = L.GridLayer.extend({
    createTile(coords) {
      const size = this.getTileSize();
      const tile = document.createElement("canvas");
      tile.width = size.x;
      tile.height = size.y;
      const ctx = tile.getContext("2d");
      const map = this._map;
      const origin = L.point(coords.x * size.x, coords.y * size.y);
      const nw = map.unproject(origin, coords.z);
      const se = map.unproject(origin.add(size), coords.z);
      const want = (360 / (256 * 2 ** coords.z)) * 110; // about 110 px between lines
      const step = GRID_STEPS.find((s) => s >= want) || 10;
      const px = (lat, lng) => map.project([lat, lng], coords.z).subtract(origin);
      const line = (k, a, b) => {
        ctx.beginPath();
        ctx.strokeStyle = colour;
        ctx.globalAlpha = k % 5 === 0 ? 0.55 : 0.25;
        ctx.lineWidth = k % 5 === 0 ? 1.5 : 1;
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
        ctx.stroke();
      };
      for (let k = Math.ceil(nw.lng / step); k * step <= se.lng; k += 1) {
        line(k, px(nw.lat, k * step), px(se.lat, k * step));
      }
      for (let k = Math.ceil(se.lat / step); k * step <= nw.lat; k += 1) {
        line(k, px(k * step, nw.lng), px(k * step, se.lng));
      }
      return tile;
    },
  });
  return new Grid({ pane: "tilePane", updateWhenZooming: false });
}

const STREET_WEIGHT = { motorway: 3, trunk: 3, primary: 2.5, secondary: 2, tertiary: 1.6 };

// The streets of the center's own road network, drawn on a canvas under everything else, at the
// detail the zoom asks for (the center serves three levels): streets with no tile server and no
// internet. The map's element says what is drawn (data-streets="level:features") for tests and people.
export function streetLayer(map, colour) {
  const pane = map.createPane("streets");
  pane.style.zIndex = 250; // above the grid (tiles), below zones, lines and markers
  pane.style.pointerEvents = "none";
  const renderer = L.canvas({ pane: "streets", padding: 0.3 });
  const cache = new Map();
  let shown = null;
  let wanted = null;
  const level = (z) => (z >= 16 ? 2 : z >= 14 ? 1 : 0);
  const draw = async () => {
    const z = Math.round(map.getZoom());
    const want = level(z);
    if (want === wanted) return;
    wanted = want;
    if (!cache.has(want)) {
      try {
        cache.set(want, await api("GET", `/api/v1/streets?zoom=${z}`));
      } catch {
        wanted = null; // not loaded yet (the center may still be preparing them): next move tries again
        return;
      }
    }
    if (wanted !== want) return;
    const data = cache.get(want);
    if (shown) shown.remove();
    shown = L.geoJSON(data, {
      pane: "streets", renderer, interactive: false,
      style: (f) => ({ color: colour, weight: STREET_WEIGHT[f.properties.class] || 1, opacity: 0.55 }),
    }).addTo(map);
    map.getContainer().dataset.streets = `${want}:${data.features.length}`;
  };
  map.on("zoomend", draw);
  draw();
}

// the convex hull of [lat, lon] points (monotone chain)
function hull(points) {
  const pts = [...points].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[1] - o[1]) * (b[0] - o[0]) - (a[0] - o[0]) * (b[1] - o[1]);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (const p of pts.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

export class OpsMap {
  constructor(el, cfg, { labels = true, heat = true, theme = "dark", onIncident = null } = {}) {
    this.cfg = cfg;
    this.labels = labels;
    this.onIncident = onIncident;
    this.map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(cfg.tile_url), preferCanvas: false });
    this.map.setView(DEFAULT_CENTRE, 12);
    // the page's grid may settle after the map is made: keep Leaflet's idea of its size right, and fit
    // again while nobody has moved the map by hand
    this.userMoved = false;
    for (const ev of ["mousedown", "wheel", "touchstart", "keydown"]) {
      el.addEventListener(ev, () => (this.userMoved = true), { passive: true });
    }
    new ResizeObserver(() => {
      this.map.invalidateSize();
      if (this.lastPicture && !this.userMoved) this.fit(this.lastPicture, { force: true });
    }).observe(el);
    if (cfg.tile_url) {
      L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution || "", maxZoom: 19 }).addTo(this.map);
    }
    gridLayer(theme === "dark" ? "#5b7aa6" : "#7a8aa0").addTo(this.map);
    if (cfg.streets) streetLayer(this.map, theme === "dark" ? "#8aa4c8" : "#64748b");
    this.zoneLayer = L.layerGroup().addTo(this.map);
    this.heat = heat && L.heatLayer ? L.heatLayer([], { radius: 28, blur: 22, maxZoom: 16, minOpacity: 0.35 }).addTo(this.map) : null;
    this.lineLayer = L.layerGroup().addTo(this.map);
    this.unitLayer = L.layerGroup().addTo(this.map);
    this.incidentLayer = L.layerGroup().addTo(this.map);
    this.canvas = L.canvas({ padding: 0.2 });
    this.unitMarkers = new Map();
    this.incidentMarkers = new Map();
    this.lines = new Map();
    this.zoneKey = "";
    this.fitted = false;
    this.lastFit = 0;
  }

  // a fresh snapshot: fit the view and draw the zones again
  reset() {
    this.fitted = false;
    this.zoneKey = "";
  }

  render(picture, { selected = null, highlight = [] } = {}) {
    const now = Date.now();
    this.renderUnits(picture, now, new Set(highlight));
    this.renderIncidents(picture, selected);
    this.renderLines(picture);
    this.renderZones(picture);
    if (this.heat) this.heat.setLatLngs(picture.heatPoints(now));
  }

  renderUnits(picture, now, highlight) {
    const crowded = picture.units.size > CROWDED;
    for (const [id, marker] of this.unitMarkers) {
      const u = picture.units.get(id);
      if (!u || u.lat === null || u.lat === undefined) {
        marker.remove();
        this.unitMarkers.delete(id);
      }
    }
    for (const u of picture.units.values()) {
      if (u.lat === null || u.lat === undefined) continue;
      const stale = picture.isStale(u, now);
      const colour = (UNIT_STATUS[u.status] || ["", "", "#9ca3af"])[2];
      const style = {
        radius: highlight.has(u.id) ? 12 : 9,
        color: stale ? "#e5e7eb" : highlight.has(u.id) ? "#facc15" : "#0b1220",
        weight: highlight.has(u.id) ? 4 : 2,
        dashArray: stale ? "3 3" : null,
        fillColor: colour,
        fillOpacity: stale ? 0.3 : 0.95,
      };
      let marker = this.unitMarkers.get(u.id);
      if (!marker) {
        const renderer = picture.units.size > MANY ? this.canvas : undefined; // thousands of units: one canvas
        marker = L.circleMarker([u.lat, u.lon], { ...style, className: "unit-marker", renderer }).addTo(this.unitLayer);
        this.unitMarkers.set(u.id, marker);
      } else {
        marker.setLatLng([u.lat, u.lon]);
        marker.setStyle(style);
      }
      // a crowded map names only the units on a job (and the highlighted ones); the others are dots
      const named = this.labels && (crowded ? COMMITTED.has(u.status) || highlight.has(u.id) : true);
      const label = `${u.callsign}${stale ? " ⚠" : ""}`;
      let tooltip = marker.getTooltip();
      if (named && !tooltip) {
        marker.bindTooltip(label, { permanent: true, direction: "right", offset: [8, 0], className: "unit-label" });
        tooltip = marker.getTooltip();
      } else if (!named && tooltip && tooltip.options.permanent) {
        marker.unbindTooltip();
        tooltip = null;
      }
      if (!named && !tooltip) marker.bindTooltip(`${u.callsign} · ${kindLabel(u.kind)[0]}`, { className: "unit-label" });
      else if (tooltip && tooltip.options.permanent && tooltip.getContent() !== label) marker.setTooltipContent(label);
      const path = marker.getElement();
      if (path) {
        path.dataset.unit = u.id;
        path.dataset.callsign = u.callsign;
        path.dataset.status = u.status;
        path.dataset.stale = stale ? "1" : "0";
      }
    }
  }

  renderIncidents(picture, selected) {
    for (const [id, marker] of this.incidentMarkers) {
      if (!picture.incidents.has(id)) {
        marker.remove();
        this.incidentMarkers.delete(id);
      }
    }
    for (const i of picture.incidents.values()) {
      if (i.lat === null || i.lat === undefined) continue;
      const classes = ["incident", `p${i.priority}`, `s-${i.status}`];
      if (UNSERVED.has(i.status)) classes.push("unserved");
      if (i.id === selected) classes.push("selected");
      const html = `<div class="${classes.join(" ")}" data-incident="${i.id}" data-status="${i.status}"
        style="--c:${PRIORITY_COLOUR[i.priority] || "#ef4444"}"><b>P${i.priority}</b></div>`;
      let marker = this.incidentMarkers.get(i.id);
      const key = html;
      if (!marker) {
        marker = L.marker([i.lat, i.lon], { icon: this.icon(html), zIndexOffset: 1000 - i.priority * 100 });
        marker.addTo(this.incidentLayer);
        if (this.labels) {
          marker.bindTooltip("", { permanent: true, direction: "bottom", offset: [0, 14], className: "incident-label" });
        }
        if (this.onIncident) marker.on("click", () => this.onIncident(i.id));
        marker.key = "";
        this.incidentMarkers.set(i.id, marker);
      }
      marker.setLatLng([i.lat, i.lon]);
      if (marker.key !== key) {
        marker.setIcon(this.icon(html));
        marker.key = key;
      }
      const label = `#${i.id} ${categoryLabel(i.category)[0]}`;
      const tooltip = marker.getTooltip();
      if (tooltip && tooltip.getContent() !== label) marker.setTooltipContent(label);
    }
  }

  icon(html) {
    return L.divIcon({ className: "incident-icon", html, iconSize: [36, 36], iconAnchor: [18, 18] });
  }

  renderLines(picture) {
    const seen = new Set();
    for (const a of picture.assignments.values()) {
      if (!ACTIVE.has(a.status)) continue;
      const u = picture.units.get(a.unit_id);
      const i = picture.incidents.get(a.incident_id);
      if (!u || !i || u.lat === null || u.lat === undefined) continue;
      seen.add(a.id);
      const offered = a.status === "offered";
      const style = {
        color: offered ? "#f59e0b" : a.status === "on_scene" ? "#c026d3" : "#60a5fa",
        weight: offered ? 3 : 4,
        dashArray: offered ? "8 8" : null,
        opacity: 0.9,
      };
      // along the roads when the center routed the unit, from where it is now
      const points = alongRoute(a.route, [u.lat, u.lon], [i.lat, i.lon]);
      let line = this.lines.get(a.id);
      if (!line) {
        line = L.polyline(points, { ...style, className: "assignment-line", interactive: false }).addTo(this.lineLayer);
        this.lines.set(a.id, line);
      } else {
        line.setLatLngs(points);
        line.setStyle(style);
      }
      const path = line.getElement();
      if (path) {
        path.dataset.assignment = `${a.id}:${a.status}`;
        path.dataset.road = a.route ? "1" : "0";
      }
    }
    for (const [id, line] of this.lines) {
      if (!seen.has(id)) {
        line.remove();
        this.lines.delete(id);
      }
    }
  }

  // patrol zones as the data describes them: the area where the units based in each zone are
  renderZones(picture) {
    const byZone = new Map();
    const add = (zone, lat, lon) => {
      if (!zone || lat === null || lat === undefined) return;
      if (!byZone.has(zone)) byZone.set(zone, []);
      byZone.get(zone).push([lat, lon]);
    };
    for (const u of picture.units.values()) add(u.home_zone, u.lat, u.lon);
    const key = [...byZone.keys()].sort().join("|");
    const now = Date.now();
    if (key === this.zoneKey && now - (this.zonesAt || 0) < ZONES_EVERY_MS) return;
    this.zoneKey = key;
    this.zonesAt = now;
    this.zoneLayer.clearLayers();
    const palette = ["#38bdf8", "#a3e635", "#f472b6", "#fbbf24", "#818cf8", "#34d399", "#fb7185", "#c084fc"];
    let n = 0;
    for (const [zone, points] of [...byZone.entries()].sort()) {
      const colour = palette[n++ % palette.length];
      const lat = points.reduce((s, p) => s + p[0], 0) / points.length;
      const lon = points.reduce((s, p) => s + p[1], 0) / points.length;
      const style = { color: colour, weight: 2, dashArray: "6 6", fillColor: colour, fillOpacity: 0.06, interactive: false };
      let shape;
      let top = lat + 600 / 111320; // the label sits on the zone's northern edge, clear of what is inside
      const ring = hull(points);
      if (ring.length >= 3) {
        const k = Math.cos((lat * Math.PI) / 180);
        const pad = 0.003; // about 330 m around the outermost points
        const padded = ring.map(([a, b]) => {
          const dy = a - lat;
          const dx = (b - lon) * k;
          const len = Math.hypot(dx, dy) || 1;
          return [a + (dy / len) * pad, b + ((dx / len) * pad) / k];
        });
        shape = L.polygon(padded, { ...style, className: "zone" });
        top = Math.max(...padded.map((q) => q[0]));
      } else {
        shape = L.circle([lat, lon], { ...style, radius: 600, className: "zone" });
      }
      shape.addTo(this.zoneLayer);
      L.tooltip({ permanent: true, direction: "top", offset: [0, -2], className: "zone-label" })
        .setLatLng([top, lon]).setContent(zone).addTo(this.zoneLayer);
    }
  }

  // fit everything on the first picture, and again (at most every 10 s) when something falls outside
  fit(picture, { force = false, padding = 40 } = {}) {
    this.lastPicture = picture;
    if (this.userMoved && this.fitted && !force) return;
    const points = [];
    for (const u of picture.units.values()) if (u.lat !== null && u.lat !== undefined) points.push([u.lat, u.lon]);
    for (const i of picture.incidents.values()) points.push([i.lat, i.lon]);
    if (!points.length) return;
    const bounds = L.latLngBounds(points);
    const view = this.map.getBounds();
    const now = Date.now();
    if (force || !this.fitted || (!view.contains(bounds) && now - this.lastFit > 10000)) {
      this.map.fitBounds(bounds.pad(0.03), { padding: [padding, padding], maxZoom: 15, animate: this.fitted });
      this.fitted = true;
      this.lastFit = now;
    }
  }

  focus(lat, lon, zoom = 15) {
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), zoom));
  }
}

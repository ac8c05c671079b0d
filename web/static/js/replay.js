// The replay's clock and what it shows at a time t, as pure functions over the one answer of
// GET /api/v1/incidents/{id}/replay (times in epoch milliseconds; a unit's fixes are [ms, lat, lon],
// oldest first). No DOM and no map here: console-replay.js draws what these functions say.

export const SPEEDS = [1, 10, 60, 300];

export function clamp(t, start, end) {
  return Math.min(end, Math.max(start, t));
}

// the index of the last fix at or before t, or -1 when every fix is later (binary search: trails
// can hold thousands of fixes)
export function lastFixAt(fixes, t) {
  let lo = 0;
  let hi = fixes.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fixes[mid][0] <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

// where a unit was at t: [lat, lon] interpolated linearly between the fixes either side of t; its last
// fix after the trail ends; null before its first fix (it is not known yet)
export function positionAt(fixes, t) {
  const i = lastFixAt(fixes, t);
  if (i < 0) return null;
  const [t0, lat0, lon0] = fixes[i];
  if (i === fixes.length - 1 || t === t0) return [lat0, lon0];
  const [t1, lat1, lon1] = fixes[i + 1];
  const k = t1 > t0 ? (t - t0) / (t1 - t0) : 1;
  return [lat0 + (lat1 - lat0) * k, lon0 + (lon1 - lon0) * k];
}

// the trail drawn at t: the fixes at or before t, then the unit's interpolated position
export function trailAt(fixes, t) {
  const i = lastFixAt(fixes, t);
  const points = fixes.slice(0, i + 1).map((f) => [f[1], f[2]]);
  const here = positionAt(fixes, t);
  if (here && (i === fixes.length - 1 || fixes[i][0] !== t)) points.push(here);
  return { fixes: i + 1, points };
}

// how many of the events (oldest first, each with at_ms) the clock has passed at t
export function eventsPassed(events, t) {
  let n = 0;
  while (n < events.length && events[n].at_ms <= t) n += 1;
  return n;
}

// the clock after `elapsedMs` of wall time at `speed`; it stops at the end
export function advance(t, elapsedMs, speed, end) {
  return Math.min(end, t + Math.max(0, elapsedMs) * speed);
}

// the marks on the map at t: each unit's offer (where it was when asked) and arrival (at the scene),
// once the clock has passed them
export function marksAt(replay, t) {
  const fixesOf = new Map(replay.units.map((u) => [u.unit_id, u.fixes]));
  const scene = [replay.incident.lat, replay.incident.lon];
  const marks = [];
  for (const a of replay.assignments) {
    if (a.offered_at !== null && a.offered_at <= t) {
      const where = positionAt(fixesOf.get(a.unit_id) || [], a.offered_at);
      if (where) marks.push({ kind: "offered", unit_id: a.unit_id, assignment: a.id, at: a.offered_at, where });
    }
    if (a.on_scene_at !== null && a.on_scene_at <= t && scene[0] !== null && scene[0] !== undefined) {
      marks.push({ kind: "on_scene", unit_id: a.unit_id, assignment: a.id, at: a.on_scene_at, where: scene });
    }
  }
  return marks;
}

// the span the map should show: the scene and every fix of the replay, as [[lat, lon], ...]
export function extent(replay) {
  const points = replay.units.flatMap((u) => u.fixes.map((f) => [f[1], f[2]]));
  if (replay.incident.lat !== null && replay.incident.lat !== undefined) points.push([replay.incident.lat, replay.incident.lon]);
  return points;
}

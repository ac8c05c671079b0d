// A unit's road route, as the offer carries it ({eta_s, distance_m, geometry: [[lat, lon], ...]}):
// the part still ahead of the unit, from its latest position. Without a route: the straight line.
export function alongRoute(route, here, there) {
  const line = route && Array.isArray(route.geometry) ? route.geometry : null;
  if (!line || line.length < 2) return [here, there];
  let best = 0;
  let bestD = Infinity;
  const k = Math.cos((here[0] * Math.PI) / 180);
  line.forEach(([lat, lon], i) => {
    const d = (lat - here[0]) ** 2 + ((lon - here[1]) * k) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return [here, ...line.slice(best + 1)];
}

// the road distance still ahead, in metres, along the same part of the route
export function metresAhead(points) {
  let total = 0;
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    const k = Math.cos((a[0] * Math.PI) / 180);
    total += Math.hypot(b[0] - a[0], (b[1] - a[1]) * k) * 111195;
  }
  return total;
}

// what is still ahead of a unit at `here` on its route to `there`: {metres, seconds} by road, the ETA
// being the route's own ETA in the share of its distance still to go; null without a route
export function ahead(route, here, there) {
  if (!route || !Array.isArray(route.geometry) || route.geometry.length < 2) return null;
  const end = there || route.geometry[route.geometry.length - 1];
  const metres = here ? metresAhead(alongRoute(route, here, end)) : route.distance_m;
  const share = route.distance_m > 0 ? Math.min(1, metres / route.distance_m) : 1;
  return { metres, seconds: route.eta_s * share };
}

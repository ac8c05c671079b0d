// A report's period on the center's clock, whatever the browser's own time zone: wall-clock times in the
// center's zone (page config `timezone`) to instants and back, and the presets (today, yesterday, the
// last 7 days, this month, the last 30 days) as whole local days. Pure functions, no page.

const formats = new Map();

function formatter(zone) {
  if (!formats.has(zone)) {
    formats.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  return formats.get(zone);
}

// what the clocks of `zone` read at instant `ms`: {y, m, d, h, mi, s}
export function wallClock(ms, zone) {
  const v = {};
  for (const part of formatter(zone).formatToParts(new Date(ms))) v[part.type] = Number(part.value);
  return { y: v.year, m: v.month, d: v.day, h: v.hour, mi: v.minute, s: v.second };
}

// how far `zone` is ahead of UTC at instant `ms`, in milliseconds
function offsetAt(ms, zone) {
  const w = wallClock(ms, zone);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

// the instant (epoch ms) at which the clocks of `zone` read this wall time; asked twice, since the
// offset at the guess may differ from the offset at the answer near a change of summer time
export function instant({ y, m, d, h = 0, mi = 0 }, zone) {
  const wall = Date.UTC(y, m - 1, d, h, mi);
  const first = wall - offsetAt(wall, zone);
  return wall - offsetAt(first, zone);
}

// a calendar date moved by `days` (months and years carried)
function addDays({ y, m, d }, days) {
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

export const PRESETS = ["today", "yesterday", "last7", "month", "last30"];

// [since, until) of a preset as epoch ms, at `now` (epoch ms) on the clocks of `zone`
export function presetPeriod(name, now, zone) {
  const today = wallClock(now, zone);
  const day = ({ y, m, d }) => instant({ y, m, d }, zone); // midnight: not the hour `today` was read at
  switch (name) {
    case "today": return [day(today), day(addDays(today, 1))];
    case "yesterday": return [day(addDays(today, -1)), day(today)];
    case "last7": return [day(addDays(today, -6)), day(addDays(today, 1))];
    case "last30": return [day(addDays(today, -29)), day(addDays(today, 1))];
    case "month": {
      const next = today.m === 12 ? { y: today.y + 1, m: 1, d: 1 } : { y: today.y, m: today.m + 1, d: 1 };
      return [day({ y: today.y, m: today.m, d: 1 }), day(next)];
    }
    default: throw new Error(`no preset ${name}`);
  }
}

const two = (n) => String(n).padStart(2, "0");

// an instant as the value of an <input type="datetime-local"> on the clocks of `zone`
export function toInput(ms, zone) {
  const w = wallClock(ms, zone);
  return `${w.y}-${two(w.m)}-${two(w.d)}T${two(w.h)}:${two(w.mi)}`;
}

// the value of an <input type="datetime-local">, read on the clocks of `zone`, as epoch ms (NaN if empty)
export function fromInput(value, zone) {
  const found = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!found) return NaN;
  const [y, m, d, h, mi] = found.slice(1).map(Number);
  return instant({ y, m, d, h, mi }, zone);
}

// "2026-03-02 08:00" on the clocks of `zone`
export function shown(iso, zone) {
  return iso ? toInput(new Date(iso).getTime(), zone).replace("T", " ") : "–";
}

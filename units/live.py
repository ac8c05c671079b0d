"""The live index in Redis: each unit's current state, and GEO sets of units that can be sent, by kind.

A unit enters or leaves its kind's GEO set in the same script that changes its status, so the index
never disagrees with the status. All keys share the ``{units}`` hash tag (one slot in a Redis Cluster),
which is what lets one script touch a unit and its index together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

UNIT_KEY = "{units}:u:"
INDEX_KEY = "{units}:avail:"

# KEYS: unit hash, index of its kind. ARGV: field/value pairs... ; status dispatchability decided by caller:
# ARGV[1] = '1' when the unit belongs in the index.
_UPSERT = """
local n = #ARGV
redis.call('HSET', KEYS[1], unpack(ARGV, 2, n))
local lat = redis.call('HGET', KEYS[1], 'lat')
local lon = redis.call('HGET', KEYS[1], 'lon')
local suspect = redis.call('HGET', KEYS[1], 'suspect')
if ARGV[1] == '1' and lat and lon and suspect ~= '1' then
  redis.call('GEOADD', KEYS[2], lon, lat, KEYS[1])
else
  redis.call('ZREM', KEYS[2], KEYS[1])
end
return 1
"""

# Set the status. ARGV: wanted status, '1' if it is dispatchable, the status version from PostgreSQL
# ('' for a claim, which comes before PostgreSQL), expected statuses... A write older than the last one
# applied is skipped, so two changes that commit in one order cannot land in Redis in the other.
# Returns {applied, the status found (the new one when applied)}.
_SET_STATUS = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return false end
if ARGV[3] ~= '' and tonumber(ARGV[3]) < tonumber(redis.call('HGET', KEYS[1], 'sv') or '0') then
  return {0, current}
end
if #ARGV > 3 then
  local ok = false
  for i = 4, #ARGV do if ARGV[i] == current then ok = true end end
  if not ok then return {0, current} end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'sv', ARGV[3]) end
local lat = redis.call('HGET', KEYS[1], 'lat')
local lon = redis.call('HGET', KEYS[1], 'lon')
if ARGV[2] == '1' and lat and redis.call('HGET', KEYS[1], 'suspect') ~= '1' then
  redis.call('GEOADD', KEYS[2], lon, lat, KEYS[1])
else
  redis.call('ZREM', KEYS[2], KEYS[1])
end
return {1, ARGV[1]}
"""

# A batch of position fixes in one call. KEYS: the units' hashes, one per fix, in order. ARGV: the
# number n of dispatchable statuses, those statuses, the ceiling (a stored fix time above it came from a
# wrong clock before fix times were bounded, and counts as no fix), then 6 values per fix: lat, lon,
# fix time (epoch s), accuracy, speed, heading. One verdict per fix: 'ok', 'old' (not newer than the
# last one), 'suspect' (faster than the unit's kind can move) or 'unknown' (no such unit). The index key is
# derived from the unit's kind; it shares the {units} hash tag, so it lives in the same cluster slot.
_FIXES = """
local n = tonumber(ARGV[1])
local indexed = {}
for i = 2, n + 1 do indexed[ARGV[i]] = true end
local ceiling = tonumber(ARGV[n + 2])
local verdicts = {}
local r = math.rad
for k = 1, #KEYS do
  local key = KEYS[k]
  local a = n + 3 + (k - 1) * 6
  local kind = redis.call('HGET', key, 'kind')
  if not kind then
    verdicts[k] = 'unknown'
  else
    local last = tonumber(redis.call('HGET', key, 'fix_at') or '0')
    if last > ceiling then last = 0 end
    local t = tonumber(ARGV[a + 2])
    if t <= last then
      verdicts[k] = 'old'
    else
      local lat, lon = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
      local plat = tonumber(redis.call('HGET', key, 'lat') or '')
      local plon = tonumber(redis.call('HGET', key, 'lon') or '')
      local suspect = false
      if plat and plon and last > 0 then
        local dlat, dlon = r(lat - plat), r(lon - plon)
        local h = math.sin(dlat/2)^2 + math.cos(r(plat)) * math.cos(r(lat)) * math.sin(dlon/2)^2
        local d = 2 * 6371008.8 * math.asin(math.min(1, math.sqrt(h)))
        local vmax = tonumber(redis.call('HGET', key, 'maxv') or '70')
        -- allow for GPS error before calling a jump implausible
        suspect = d > 200 and d / (t - last) > vmax
      end
      local index = '{units}:avail:' .. kind
      if suspect then
        redis.call('HSET', key, 'suspect', '1', 'suspect_lat', ARGV[a], 'suspect_lon', ARGV[a + 1],
          'suspect_at', ARGV[a + 2])
        redis.call('ZREM', index, key)
        verdicts[k] = 'suspect'
      else
        redis.call('HSET', key, 'lat', ARGV[a], 'lon', ARGV[a + 1], 'fix_at', ARGV[a + 2], 'suspect', '0',
          'accuracy', ARGV[a + 3], 'speed', ARGV[a + 4], 'heading', ARGV[a + 5])
        if indexed[redis.call('HGET', key, 'status')] then redis.call('GEOADD', index, lon, lat, key) end
        verdicts[k] = 'ok'
      end
    end
  end
end
return verdicts
"""


@dataclass(frozen=True, slots=True)
class LiveUnit:
    unit_id: int
    callsign: str
    kind: str
    tier: int
    status: str
    zone: str | None
    capabilities: frozenset[str]
    lat: float | None
    lon: float | None
    fix_at: float | None  # epoch seconds
    suspect: bool
    status_version: int = 0


@dataclass(frozen=True, slots=True)
class Nearby:
    unit_id: int
    distance_m: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Fix:
    unit_id: int
    lat: float
    lon: float
    at: float  # epoch seconds of the fix itself
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None


def unit_key(unit_id: int) -> str:
    return f"{UNIT_KEY}{unit_id}"


def index_key(kind: str) -> str:
    return f"{INDEX_KEY}{kind}"


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


def _nearby(reply: Any) -> list[Nearby]:
    """A GEOSEARCH reply (with distances and coordinates) as units, nearest first."""
    return [
        Nearby(int(member.decode().rsplit(":", 1)[1]), float(dist), float(coord[1]), float(coord[0]))
        for member, dist, coord in reply
    ]


def _opt(value: float | None) -> str | float:
    return "" if value is None else value


def _float(value: bytes | None) -> float | None:
    return float(value) if value not in (None, b"") else None


def _fix_time(value: bytes | None, trusted_ahead_s: float) -> float | None:
    """A stored fix time further ahead than fix times may be came from a wrong clock before they were
    bounded: it is read as no time at all rather than one that no calendar can show."""
    at = _float(value)
    return at if at is not None and math.isfinite(at) and at < time.time() + trusted_ahead_s else None


class LiveIndex:
    def __init__(
        self, redis: aioredis.Redis, dispatchable_statuses: Iterable[str],
        max_speed_mps: Mapping[str, float] | None = None, trusted_ahead_s: float = 3600.0,
    ) -> None:  # fmt: skip
        self._redis = redis
        self._trusted_ahead_s = trusted_ahead_s
        self._dispatchable = tuple(dispatchable_statuses)
        self._max_speed = dict(max_speed_mps or {})  # by kind: faster fixes are implausible jumps
        self._upsert = redis.register_script(_UPSERT)
        self._set_status = redis.register_script(_SET_STATUS)
        self._fixes = redis.register_script(_FIXES)

    def _indexable(self, status: str) -> str:
        return "1" if status in self._dispatchable else "0"

    async def put(self, unit: LiveUnit) -> None:
        """Write a unit's whole live state (registration, or a rebuild from PostgreSQL)."""
        fields: list[str | float | int] = [
            "callsign", unit.callsign, "kind", unit.kind, "tier", unit.tier, "status", unit.status,
            "zone", unit.zone or "", "caps", ",".join(sorted(unit.capabilities)),
            "suspect", "1" if unit.suspect else "0", "sv", unit.status_version,
            "maxv", self._max_speed.get(unit.kind, 70.0),
        ]  # fmt: skip
        if unit.lat is not None and unit.lon is not None:
            fields += ["lat", unit.lat, "lon", unit.lon, "fix_at", unit.fix_at or 0.0]
        await self._upsert(
            keys=[unit_key(unit.unit_id), index_key(unit.kind)],
            args=[self._indexable(unit.status), *fields],
        )

    async def describe(self, unit: LiveUnit, old_kind: str | None = None) -> None:
        """Rewrite what a unit is (callsign, kind, tier, zone, capabilities), not where or how it is;
        a changed kind moves it from the old kind's index to the new one's."""
        key = unit_key(unit.unit_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping={
            "callsign": unit.callsign, "kind": unit.kind, "tier": unit.tier, "zone": unit.zone or "",
            "caps": ",".join(sorted(unit.capabilities)), "maxv": self._max_speed.get(unit.kind, 70.0),
        })  # fmt: skip
        if old_kind and old_kind != unit.kind:
            pipe.zrem(index_key(old_kind), key)
        await pipe.execute()
        await self.set_status(unit.unit_id, unit.kind, unit.status, version=unit.status_version)

    async def forget(self, unit_id: int, kind: str) -> None:
        """A retired unit leaves the live state entirely; its fixes are then 'unknown'."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(index_key(kind), unit_key(unit_id))
        pipe.delete(unit_key(unit_id))
        await pipe.execute()

    async def set_status(
        self, unit_id: int, kind: str, status: str, expect: Sequence[str] = (), version: int | None = None
    ) -> tuple[bool, str | None]:
        """Set the status if the current one is among ``expect`` (any, when empty) and ``version`` is
        not older than the last one applied; the index follows."""
        reply = await self._set_status(
            keys=[unit_key(unit_id), index_key(kind)],
            args=[status, self._indexable(status), "" if version is None else version, *expect],
        )
        if reply is None:
            return False, None
        return bool(int(reply[0])), _text(reply[1])

    async def claim(self, unit_id: int, kind: str, status: str = "offered") -> bool:
        """Take a dispatchable unit out of the index atomically; False when someone else was first."""
        ok, _ = await self.set_status(unit_id, kind, status, expect=self._dispatchable)
        return ok

    async def record_fixes(self, fixes: Sequence[Fix], ceiling: float) -> list[str]:
        """Apply fixes in one script call; one verdict per fix: ok, old, suspect or unknown. A stored
        fix time above ``ceiling`` is not trusted as the last fix."""
        if not fixes:
            return []
        args: list[str | float] = [len(self._dispatchable), *self._dispatchable, repr(ceiling)]
        for f in fixes:
            args += [repr(f.lat), repr(f.lon), repr(f.at), _opt(f.accuracy_m), _opt(f.speed_mps),
                     _opt(f.heading)]  # fmt: skip
        replies = await self._fixes(keys=[unit_key(f.unit_id) for f in fixes], args=args)
        return [r.decode() if isinstance(r, bytes) else str(r) for r in replies]

    async def statuses(self, unit_ids: Sequence[int]) -> dict[int, str | None]:
        """Each unit's status as Redis holds it (None: Redis does not know the unit)."""
        pipe = self._redis.pipeline(transaction=False)
        for unit_id in unit_ids:
            pipe.hget(unit_key(unit_id), "status")
        return {u: _text(v) for u, v in zip(unit_ids, await pipe.execute(), strict=True)}

    async def get(self, unit_ids: Sequence[int]) -> dict[int, LiveUnit]:
        pipe = self._redis.pipeline(transaction=False)
        for unit_id in unit_ids:
            pipe.hgetall(unit_key(unit_id))
        found: dict[int, LiveUnit] = {}
        for unit_id, h in zip(unit_ids, await pipe.execute(), strict=True):
            if not h:
                continue
            caps = (_text(h.get(b"caps")) or "").split(",")
            found[unit_id] = LiveUnit(
                unit_id=unit_id,
                callsign=_text(h.get(b"callsign")) or "",
                kind=_text(h.get(b"kind")) or "",
                tier=int(h.get(b"tier", b"1")),
                status=_text(h.get(b"status")) or "",
                zone=_text(h.get(b"zone")) or None,
                capabilities=frozenset(c for c in caps if c),
                lat=_float(h.get(b"lat")),
                lon=_float(h.get(b"lon")),
                fix_at=_fix_time(h.get(b"fix_at"), self._trusted_ahead_s),
                suspect=h.get(b"suspect") == b"1",
            )
        return found

    async def search(
        self, kinds: Iterable[str], lat: float, lon: float, want: int,
        radii_m: Sequence[float] = (2_000, 5_000, 12_000, 30_000),
    ) -> list[Nearby]:  # fmt: skip
        """Expanding-radius search: stop at the first radius that holds ``want`` units of these kinds,
        so the cost follows local density, not fleet size."""
        found: dict[int, Nearby] = {}
        kinds = list(kinds)
        for radius in radii_m:
            pipe = self._redis.pipeline(transaction=False)  # every kind at this radius, one round trip
            for kind in kinds:
                pipe.geosearch(
                    index_key(kind), longitude=lon, latitude=lat, radius=radius, unit="m", sort="ASC",
                    count=max(want * 3, 10), withdist=True, withcoord=True,
                )  # fmt: skip
            for reply in await pipe.execute():
                for n in _nearby(reply):
                    found[n.unit_id] = n
            if len(found) >= want:
                break
        return sorted(found.values(), key=lambda n: (n.distance_m, n.unit_id))

"""The operational picture at one moment: units, open incidents, active assignments and KPI figures."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from alerts import incidents, panic
from cases.casebook import CaseBook
from dispatch import assignments
from units.kinds import UnitKind
from units.live import LiveIndex
from units.roster import Roster
from units.status import AVAILABILITY, UnitStatus

# response-time figures and the heat map cover the incidents received this long ago or less
RECENT_S = 24 * 3600
RECENT_LIMIT = 2000
# the "1-3-5" targets: the share of arrivals within 3 and within 5 minutes of the call
ARRIVAL_TARGETS_S = (180, 300)
# a fix this far ahead of the center's clock is shown stale (the phone's clock is wrong)
FUTURE_FIX_S = 300.0


def _iso(epoch_s: float | None) -> str | None:
    """An epoch time as ISO 8601; None for none, or for one that is not a time (NaN, year 10000...).
    One unit's bad value in Redis must not keep every screen from getting a snapshot."""
    if epoch_s is None or not math.isfinite(epoch_s):
        return None
    try:
        return datetime.fromtimestamp(epoch_s, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


async def build(
    pool: asyncpg.Pool, roster: Roster, live: LiveIndex, kinds: Mapping[str, UnitKind],
    cases: CaseBook | None = None,
) -> dict[str, Any]:  # fmt: skip
    units = await roster.all()
    fresh = await live.get([u.id for u in units])
    now = time.time()
    unit_rows = []
    for unit in units:
        row = unit.as_json()
        lu = fresh.get(unit.id)
        if lu is not None and lu.lat is not None:
            row["lat"], row["lon"], fix_at = lu.lat, lu.lon, lu.fix_at
            fixed = _iso(fix_at)
            if fixed is not None:
                row["fix_at"] = fixed
            elif fix_at is not None:  # a time no clock could have given: the position is not trusted
                row["fix_at"] = fix_at = None
        else:
            fix_at = unit.fix_at.timestamp() if unit.fix_at else None
        kind = kinds.get(unit.kind)
        row["stale"] = (
            fix_at is None
            or fix_at > now + FUTURE_FIX_S
            or (kind is not None and now - fix_at > kind.stale_after_s)
        )
        row["availability"] = AVAILABILITY[UnitStatus(row["status"])].value
        unit_rows.append(row)
    open_incidents = [i.as_json() for i in await incidents.open_incidents(pool)]
    active = [a.as_json() for a in await assignments.all_active(pool)]
    recent = await recent_incidents(pool)
    return {
        "units": unit_rows,
        "incidents": open_incidents,
        "assignments": active,
        # incidents of the last RECENT_S, newest first: [id, lat, lon, priority, received (epoch s),
        # seconds to dispatch, seconds to arrive]
        # (the heat map, and what screens update the response-time figures from)
        "recent": recent,
        # open panics (officers who pressed the emergency button), oldest first
        "panics": [p.as_json() for p in await panic.open_panics(pool)],
        "kpi": kpi(unit_rows, open_incidents, recent)
        | {"overdue_cases_by_town": await cases.overdue_by_town() if cases else {}},
        # the working-day calendar: {"known_until", "missing_years"} (an alarm while a year is missing)
        "calendar": cases.calendar_status() if cases else None,
    }


async def recent_incidents(pool: asyncpg.Pool) -> list[list[float | None]]:
    rows = await pool.fetch(
        """select id, lat, lon, priority, extract(epoch from received_at) as received,
                  extract(epoch from dispatched_at - received_at) as to_dispatch,
                  extract(epoch from on_scene_at - received_at) as to_arrive
           from incidents where received_at > now() - make_interval(secs => $1) and merged_into is null
           order by received_at desc limit $2""",
        RECENT_S, RECENT_LIMIT,
    )  # fmt: skip
    return [
        [r["id"], round(r["lat"], 5), round(r["lon"], 5), r["priority"], round(float(r["received"]), 1),
         _seconds(r["to_dispatch"]), _seconds(r["to_arrive"])]
        for r in rows
    ]  # fmt: skip


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 1)


def kpi(
    units: list[dict[str, Any]], open_incidents: list[dict[str, Any]],
    recent: Sequence[Sequence[float | None]] = (),
) -> dict[str, Any]:  # fmt: skip
    by_priority = Counter(str(i["priority"]) for i in open_incidents)
    by_class = Counter(u["availability"] for u in units)
    by_kind: dict[str, Counter[str]] = {}
    for u in units:
        by_kind.setdefault(u["kind"], Counter())[u["availability"]] += 1
    unserved = {s.value for s in incidents.UNSERVED}
    to_dispatch = [r[5] for r in recent if r[5] is not None]
    to_arrive = [r[6] for r in recent if r[6] is not None]
    return {
        "open_incidents_by_priority": dict(by_priority),
        "units_by_availability": dict(by_class),
        "units_by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
        "unserved_incidents": sum(1 for i in open_incidents if i["status"] in unserved),
        # seconds from the call, over the incidents of the last RECENT_S
        "window_s": RECENT_S,
        "dispatch_s": _spread(to_dispatch),
        "arrive_s": _spread(to_arrive),
        # the share (0..1) of arrivals within each target, keyed by its seconds
        "arrived_within": {str(limit): _share(to_arrive, limit) for limit in ARRIVAL_TARGETS_S},
    }


def _spread(values: Sequence[float]) -> dict[str, float | int | None]:
    return {"p50": percentile(values, 50), "p90": percentile(values, 90), "n": len(values)}


def _share(values: Sequence[float], limit: float) -> float | None:
    return round(sum(1 for v in values if v <= limit) / len(values), 3) if values else None


class SharedSnapshot:
    """One snapshot build serves every screen that asks at the same feed position within ``max_age_s``:
    a thousand screens reconnecting after a restart cost one build, not a thousand."""

    def __init__(self, build_state: Callable[[], Awaitable[dict[str, Any]]], max_age_s: float = 1.0) -> None:
        self._build = build_state
        self._max_age_s = max_age_s
        self._lock = asyncio.Lock()
        self._seq: int | None = None
        self._built_at = 0.0
        self._state: dict[str, Any] = {}

    async def at(self, seq: int) -> dict[str, Any]:
        """The state as of (at least) feed position ``seq``."""
        async with self._lock:
            now = time.monotonic()
            if self._seq != seq or now - self._built_at > self._max_age_s:
                self._state = await self._build()
                self._seq, self._built_at = seq, now
            return self._state

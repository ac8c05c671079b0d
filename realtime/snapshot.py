"""The operational picture at one moment: units, open incidents, active assignments and KPI figures."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

from alerts import incidents
from alerts.casebook import CaseBook
from dispatch import assignments
from units.kinds import UnitKind
from units.live import LiveIndex
from units.roster import Roster
from units.status import AVAILABILITY, UnitStatus


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
        else:
            fix_at = unit.fix_at.timestamp() if unit.fix_at else None
        kind = kinds.get(unit.kind)
        row["stale"] = fix_at is None or (kind is not None and now - fix_at > kind.stale_after_s)
        row["availability"] = AVAILABILITY[UnitStatus(row["status"])].value
        unit_rows.append(row)
    open_incidents = [i.as_json() for i in await incidents.open_incidents(pool)]
    active = [a.as_json() for a in await assignments.all_active(pool)]
    return {
        "units": unit_rows,
        "incidents": open_incidents,
        "assignments": active,
        "kpi": kpi(unit_rows, open_incidents)
        | {"overdue_cases_by_town": await cases.overdue_by_town() if cases else {}},
    }


def kpi(units: list[dict[str, Any]], open_incidents: list[dict[str, Any]]) -> dict[str, Any]:
    by_priority = Counter(str(i["priority"]) for i in open_incidents)
    by_class = Counter(u["availability"] for u in units)
    unserved = {s.value for s in incidents.UNSERVED}
    return {
        "open_incidents_by_priority": dict(by_priority),
        "units_by_availability": dict(by_class),
        "unserved_incidents": sum(1 for i in open_incidents if i["status"] in unserved),
    }


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

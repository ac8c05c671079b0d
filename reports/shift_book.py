"""Shift reports: when a shift ends, a one-page summary (counts, the worst response times, the grid
cases overdue, the units whose position was stale) is made once and kept in ``shift_reports``.

The next shift end is a deadline in PostgreSQL (``shift_clock``), taken under a row lock, so that any
number of scheduler processes make each report once, and a center that was down over a shift end
makes the missed reports when it is back (at most CATCH_UP of them; older ones are skipped, logged)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from alerts.catalogue import Catalogue
from core.db import Queryable
from core.errors import NotFound
from reports.cases import RUNNING_CASES, grid_cases
from reports.offers import offers
from reports.period import Grouping, Period
from reports.response import case_categories, response_times
from reports.shifts import next_end, shift_start
from units.kinds import UnitKind

log = logging.getLogger(__name__)

CATCH_UP = 21  # a week of three shifts
WORST = 10  # incidents listed as the worst response times, cases listed as overdue

_WORST = """
select i.id, i.category, i.priority, i.zone, i.status,
       extract(epoch from i.dispatched_at - i.received_at) as dispatch_s,
       extract(epoch from i.on_scene_at - i.received_at) as arrive_s,
       i.received_at
from incidents i
where i.received_at >= $1 and i.received_at < $2 and i.merged_into is null
  and i.category <> all($3::text[])
order by i.on_scene_at - i.received_at desc nulls first, i.received_at
limit $4"""

_OVERDUE = """
select id, town, community, level, category, deadline, opened_at from grid_cases
where opened_at < $1 and (closed_at is null or closed_at >= $1) and deadline < $1
  and status = any($3::text[])
order by deadline limit $2"""
_OVERDUE_BY_TOWN = """
select town, count(*) as n from grid_cases
where opened_at < $1 and (closed_at is null or closed_at >= $1) and deadline < $1
  and status = any($2::text[])
group by town order by town"""

# units on duty whose last fix before the shift's end was older than their kind allows
_STALE = """
select u.id, u.callsign, u.kind, u.status, last.at as last_fix_at
from units u
join unnest($2::text[], $3::float8[]) as k(kind, stale_s) on k.kind = u.kind
left join lateral (select p.at from positions p where p.unit_id = u.id and p.at <= $1
                   order by p.at desc limit 1) last on true
where u.retired_at is null and u.created_at < $1 and u.status not in ('off_duty', 'out_of_service')
  and (last.at is null or last.at < $1 - make_interval(secs => k.stale_s))
order by u.callsign limit $4"""


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _round(v: Any) -> float | None:
    return None if v is None else round(float(v), 1)


class ShiftBook:
    def __init__(
        self, pool: asyncpg.Pool, catalogue: Catalogue, kinds: Mapping[str, UnitKind],
        starts: Sequence[time], timezone: str, clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        self.pool = pool
        self.catalogue = catalogue
        self.kinds = kinds
        self.starts = tuple(starts)
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.clock = clock

    async def make_due(self) -> list[int]:
        """Make the reports of every shift that has ended since the last; the ids made now."""
        made: list[int] = []
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            due = await conn.fetchval("select next_end from shift_clock for update")
            if due is None:
                first = next_end(now, self.starts, self.zone)
                await conn.execute(
                    "insert into shift_clock (next_end) values ($1) on conflict do nothing", first
                )
                return made
            oldest = now - timedelta(days=7)
            if due < oldest:
                log.warning("shift reports: the center missed the shift ends since %s; those before %s "
                            "are skipped", due.isoformat(), oldest.isoformat())  # fmt: skip
                due = next_end(oldest, self.starts, self.zone)
            while due <= now and len(made) < CATCH_UP:
                start = shift_start(due, self.starts, self.zone)
                summary = await self.summarise(conn, start, due)
                report_id = await conn.fetchval(
                    """insert into shift_reports (shift_start, shift_end, summary) values ($1, $2, $3)
                       on conflict (shift_start) do nothing returning id""",
                    start, due, summary,
                )  # fmt: skip
                if report_id is not None:
                    made.append(report_id)
                    log.info(
                        "shift report %d made for %s .. %s", report_id, start.isoformat(), due.isoformat()
                    )
                due = next_end(due, self.starts, self.zone)
            await conn.execute("update shift_clock set next_end = $1", due)
        return made

    async def summarise(self, conn: Queryable, start: datetime, end: datetime) -> dict[str, Any]:
        """The shift's one page, as JSON."""
        period = Period(start, end)
        response = (await response_times(conn, self.catalogue, period, Grouping.ALL, self.timezone)).as_json()
        by_priority = await response_times(conn, self.catalogue, period, Grouping.PRIORITY, self.timezone)
        offered = (await offers(conn, self.catalogue, period, Grouping.ALL, self.timezone)).as_json()
        cases = (await grid_cases(conn, period)).as_json()
        worst = await conn.fetch(_WORST, start, end, case_categories(self.catalogue), WORST)
        overdue = await conn.fetch(_OVERDUE, end, WORST, RUNNING_CASES)
        overdue_by_town = await conn.fetch(_OVERDUE_BY_TOWN, end, RUNNING_CASES)
        codes = sorted(self.kinds)
        stale = await conn.fetch(_STALE, end, codes, [float(self.kinds[k].stale_after_s) for k in codes], 500)
        total = response["rows"][0] if response["rows"] else {}
        return {
            "shift_start": start.isoformat(), "shift_end": end.isoformat(), "timezone": self.timezone,
            "response": total,
            "by_priority": by_priority.as_json()["rows"],
            "offers": offered["rows"][0] if offered["rows"] else {},
            "cases": cases["rows"],
            "worst": [{"incident_id": r["id"], "category": r["category"], "priority": r["priority"],
                       "zone": r["zone"], "status": r["status"], "dispatch_s": _round(r["dispatch_s"]),
                       "arrive_s": _round(r["arrive_s"]), "received_at": _iso(r["received_at"])}
                      for r in worst],
            "overdue_cases": {"by_town": {r["town"]: r["n"] for r in overdue_by_town},
                              "oldest": [{"case_id": r["id"], "town": r["town"], "community": r["community"],
                                          "level": r["level"], "category": r["category"],
                                          "deadline": _iso(r["deadline"])} for r in overdue]},
            "stale_units": [{"unit_id": r["id"], "callsign": r["callsign"], "kind": r["kind"],
                             "status": r["status"], "last_fix_at": _iso(r["last_fix_at"])} for r in stale],
        }  # fmt: skip

    async def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest reports, newest first: when, and the headline figures."""
        rows = await self.pool.fetch(
            """select id, shift_start, shift_end, made_at,
                      summary->'response'->'incidents' as incidents,
                      summary->'response'->'arrive_p90' as arrive_p90,
                      jsonb_array_length(summary->'stale_units') as stale_units
               from shift_reports order by shift_end desc limit $1""",
            limit,
        )  # fmt: skip
        return [{"id": r["id"], "shift_start": _iso(r["shift_start"]), "shift_end": _iso(r["shift_end"]),
                 "made_at": _iso(r["made_at"]), "incidents": _json(r["incidents"]),
                 "arrive_p90": _json(r["arrive_p90"]), "stale_units": r["stale_units"]}
                for r in rows]  # fmt: skip

    async def get(self, report_id: int) -> dict[str, Any]:
        row = await self.pool.fetchrow("select * from shift_reports where id = $1", report_id)
        if row is None:
            raise NotFound(f"no shift report {report_id}", shift_report_id=report_id)
        return {"id": row["id"], "made_at": _iso(row["made_at"]), **row["summary"]}


def _json(value: Any) -> Any:
    """A jsonb scalar as the pool's codec hands it (decoded already, or text)."""
    return orjson.loads(value) if isinstance(value, str) else value

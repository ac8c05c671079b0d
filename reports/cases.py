"""Grid cases per level and town over a period, from the case book's events: opened, resolved,
escalated (counted at the level they left) and overdue (at the level that let the deadline pass), and
the cases still open and past their deadline at the period's end."""

from __future__ import annotations

from typing import Any

from cases.status import RUNNING
from core.db import Queryable
from reports.period import MAX_ROWS, Period
from reports.table import Column, Measure, Table

N, T = Measure.COUNT, Measure.TEXT
COLUMNS = (
    Column("level", "层级", "Level", T),
    Column("town", "街镇", "Town", T),
    Column("opened", "新立案", "Opened", N),
    Column("resolved", "已办结", "Resolved", N),
    Column("escalated", "上报升级", "Escalated", N),
    Column("overdue", "超期", "Went overdue", N),
    Column("overdue_open_at_end", "期末超期未结", "Overdue, open at the end", N),
)
KINDS = ("case.opened", "case.resolved", "case.escalated", "case.overdue")
# a case is overdue only while someone still has to act on it: not once resolved, verified, closed or
# returned (the shift report lists the same cases)
RUNNING_CASES = sorted(s.value for s in RUNNING)
LEVEL_ORDER = "array_position(array['community', 'town', 'county'], level)"

_REPORT = f"""
with marks as (
    select kind, coalesce(data->>'from_level', data->>'level') as level, coalesce(data->>'town', '') as town
    from events where kind = any($3::text[]) and at >= $1 and at < $2
),
counted as (
    select level, town,
           count(*) filter (where kind = 'case.opened') as opened,
           count(*) filter (where kind = 'case.resolved') as resolved,
           count(*) filter (where kind = 'case.escalated') as escalated,
           count(*) filter (where kind = 'case.overdue') as overdue
    from marks group by level, town
),
late as (
    select level, town, count(*) as overdue_open_at_end from grid_cases
    where opened_at < $2 and (closed_at is null or closed_at >= $2)
      and (overdue_at < $2 or deadline < $2)
      and status = any($5::text[])
    group by level, town
)
select level, town, coalesce(opened, 0) as opened, coalesce(resolved, 0) as resolved,
       coalesce(escalated, 0) as escalated, coalesce(overdue, 0) as overdue,
       coalesce(overdue_open_at_end, 0) as overdue_open_at_end
from counted full join late using (level, town)
order by {LEVEL_ORDER}, town
limit $4"""


async def grid_cases(conn: Queryable, period: Period) -> Table:
    rows = await conn.fetch(_REPORT, period.since, period.until, list(KINDS), MAX_ROWS + 1, RUNNING_CASES)
    out: list[list[Any]] = [[r[c.key] for c in COLUMNS] for r in rows[:MAX_ROWS]]
    return Table("cases", COLUMNS, out, period.as_json(), truncated=len(rows) > MAX_ROWS)

"""Offers per group: how many units were asked, how many accepted, declined, let the offer time out or
were stood down, and how long they took to accept; over the offers made for the period's incidents."""

from __future__ import annotations

from typing import Any

from alerts.catalogue import Catalogue
from core.db import Queryable
from reports.period import GROUP_SQL, MAX_ROWS, Grouping, Period, group_name
from reports.response import PERIOD_SQL, case_categories
from reports.table import Column, Measure, Table, rounded

S, N, P, T = Measure.SECONDS, Measure.COUNT, Measure.SHARE, Measure.TEXT
COLUMNS = (
    Column("group", "分组", "Group", T),
    Column("offers", "派警指令", "Offers", N),
    Column("accepted", "接受", "Accepted", N),
    Column("declined", "拒绝", "Declined", N),
    Column("timed_out", "超时未应答", "Timed out", N),
    Column("cancelled", "取消", "Cancelled", N),
    Column("accept_p50", "接受用时 中位", "Offer to acceptance p50", S),
    Column("accept_p90", "接受用时 P90", "Offer to acceptance p90", S),
    Column("accept_max", "接受用时 最长", "Offer to acceptance max", S),
    Column("timed_out_share", "超时率", "Share timed out", P),
)

_REPORT = """
select {group} as g,
       count(*) as offers,
       count(a.accepted_at) as accepted,
       count(*) filter (where a.status = 'declined') as declined,
       count(*) filter (where a.status = 'timed_out') as timed_out,
       count(*) filter (where a.status = 'cancelled') as cancelled,
       percentile_cont(array[0.5, 0.9]) within group
           (order by date_part('epoch', a.accepted_at - a.offered_at)) as accept_p,
       max(date_part('epoch', a.accepted_at - a.offered_at)) as accept_max,
       $4::text as timezone
from assignments a join incidents i on i.id = a.incident_id join units u on u.id = a.unit_id
where {period} and a.offered_at >= $1
group by 1
order by 1
limit $5"""


async def offers(
    conn: Queryable, catalogue: Catalogue, period: Period, grouping: Grouping, timezone: str
) -> Table:
    sql = _REPORT.format(group=GROUP_SQL[grouping].replace("$tz", "$4"), period=PERIOD_SQL)
    rows = await conn.fetch(
        sql, period.since, period.until, case_categories(catalogue), timezone, MAX_ROWS + 1
    )
    out: list[list[Any]] = []
    for r in rows[:MAX_ROWS]:
        p = r["accept_p"] or [None, None]
        share = r["timed_out"] / r["offers"] if r["offers"] else None
        raw = [group_name(grouping, r["g"]), r["offers"], r["accepted"], r["declined"], r["timed_out"],
               r["cancelled"], p[0], p[1], r["accept_max"], share]  # fmt: skip
        out.append([rounded(v, c.measure) for v, c in zip(raw, COLUMNS, strict=True)])
    about = {**period.as_json(), "by": grouping.value, "timezone": timezone}
    return Table("offers", COLUMNS, out, about, truncated=len(rows) > MAX_ROWS)

"""Response times and compliance per group: how fast calls were dispatched, acknowledged and reached,
against the catalogue's targets and the "1-3-5" rule, from the incidents' canonical times.

Every time is measured from the call's receipt. Merged incidents (their calls live on in another) and
grid reports that became cases (never dispatched) are left out. Grouped by unit kind, each incident
counts once per kind of unit offered to it, with that kind's first offer, acceptance and arrival."""

from __future__ import annotations

from typing import Any

from alerts.catalogue import Catalogue
from core.db import Queryable
from reports.period import GROUP_SQL, MAX_ROWS, Grouping, Period, group_name
from reports.table import Column, Measure, Table, rounded

# the "1-3-5" rule for urgent calls: moving within 1 minute, on scene within 3 and within 5 minutes
URGENT_PRIORITIES = (1, 2)
MOVING_S = 60
ON_SCENE_S = (180, 300)

S, N, P, T = Measure.SECONDS, Measure.COUNT, Measure.SHARE, Measure.TEXT
COLUMNS = (
    Column("group", "分组", "Group", T),
    Column("incidents", "警情数", "Incidents", N),
    Column("dispatch_p50", "派警 中位", "To dispatch p50", S),
    Column("dispatch_p90", "派警 P90", "To dispatch p90", S),
    Column("dispatch_max", "派警 最长", "To dispatch max", S),
    Column("ack_p50", "接受 中位", "To acknowledge p50", S),
    Column("ack_p90", "接受 P90", "To acknowledge p90", S),
    Column("ack_max", "接受 最长", "To acknowledge max", S),
    Column("arrive_p50", "到场 中位", "To first on scene p50", S),
    Column("arrive_p90", "到场 P90", "To first on scene p90", S),
    Column("arrive_max", "到场 最长", "To first on scene max", S),
    Column("dispatch_in_target", "派警达标率", "Dispatched within target", P),
    Column("arrive_in_target", "到场达标率", "On scene within target", P),
    Column("urgent", "紧急警情", "Urgent calls", N),
    Column("urgent_moving_1min", "1分钟出警", "Urgent: moving within 1 min", P),
    Column("urgent_on_scene_3min", "3分钟到场", "Urgent: on scene within 3 min", P),
    Column("urgent_on_scene_5min", "5分钟到场", "Urgent: on scene within 5 min", P),
    Column("unreached", "无警力到场", "No unit on scene", N),
    Column("went_pending", "曾无警可派", "Waited with nobody free", N),
)

# one row per incident (per incident and unit kind), its times in seconds from the call
_PER_INCIDENT = """
    select {group} as g, i.priority, array_position($4::text[], i.category) as k,
           date_part('epoch', i.dispatched_at - i.received_at) as dispatch_s,
           date_part('epoch', i.acknowledged_at - i.received_at) as ack_s,
           date_part('epoch', i.en_route_at - i.received_at) as move_s,
           date_part('epoch', i.on_scene_at - i.received_at) as arrive_s, i.id
    from incidents i
    where {period}"""
_PER_INCIDENT_AND_KIND = """
    select {group} as g, i.priority, array_position($4::text[], i.category) as k,
           date_part('epoch', min(a.offered_at) - i.received_at) as dispatch_s,
           date_part('epoch', min(a.accepted_at) - i.received_at) as ack_s,
           date_part('epoch', min(a.en_route_at) - i.received_at) as move_s,
           date_part('epoch', min(a.on_scene_at) - i.received_at) as arrive_s, i.id
    from incidents i join assignments a on a.incident_id = i.id join units u on u.id = a.unit_id
    where {period} and a.offered_at >= $1
    group by i.id, u.kind"""
PERIOD_SQL = ("i.received_at >= $1 and i.received_at < $2 and i.merged_into is null "
              "and i.category <> all($3::text[])")  # fmt: skip

# what each incident meets is decided per row, where parallel workers do it; the aggregate over a
# year's rows (in one process) only counts
_REPORT = """
with waited as (select distinct incident_id as id from events
                where kind = 'incident.pending' and at >= $1 and incident_id is not null),
facts as (
    select r.g, r.dispatch_s, r.ack_s, r.arrive_s, r.k is not null as targeted,
           r.dispatch_s <= ($5::float8[])[r.k] as dispatch_ok, r.arrive_s <= ($6::float8[])[r.k] as arrive_ok,
           r.priority = any($7::int[]) as urgent, r.move_s <= $8 as moving_ok,
           r.arrive_s <= $9 as scene_a, r.arrive_s <= $10 as scene_b, r.arrive_s is null as unreached,
           w.id is not null as waited
    from ({rows}) r left join waited w on w.id = r.id
)
select g,
       count(*) as incidents,
       percentile_cont(array[0.5, 0.9]) within group (order by dispatch_s) as dispatch_p,
       max(dispatch_s) as dispatch_max,
       percentile_cont(array[0.5, 0.9]) within group (order by ack_s) as ack_p,
       max(ack_s) as ack_max,
       percentile_cont(array[0.5, 0.9]) within group (order by arrive_s) as arrive_p,
       max(arrive_s) as arrive_max,
       count(*) filter (where dispatch_ok)::float8 / nullif(count(*) filter (where targeted), 0)
           as dispatch_in_target,
       count(*) filter (where arrive_ok)::float8 / nullif(count(*) filter (where targeted), 0)
           as arrive_in_target,
       count(*) filter (where urgent) as urgent,
       count(*) filter (where urgent and moving_ok)::float8 / nullif(count(*) filter (where urgent), 0)
           as urgent_moving,
       count(*) filter (where urgent and scene_a)::float8 / nullif(count(*) filter (where urgent), 0)
           as urgent_scene_a,
       count(*) filter (where urgent and scene_b)::float8 / nullif(count(*) filter (where urgent), 0)
           as urgent_scene_b,
       count(*) filter (where unreached) as unreached,
       count(*) filter (where waited) as went_pending,
       $11::text as timezone
from facts
group by g
order by g
limit $12"""


def _statement(grouping: Grouping) -> str:
    source = _PER_INCIDENT_AND_KIND if grouping is Grouping.UNIT_KIND else _PER_INCIDENT
    group = GROUP_SQL[grouping].replace("$tz", "$11")
    return _REPORT.format(rows=source.format(group=group, period=PERIOD_SQL))


def case_categories(catalogue: Catalogue) -> list[str]:
    """Grid categories whose reports become cases, never dispatches: not part of response times."""
    return sorted(c.code for c in catalogue if c.opens_case)


async def response_times(
    conn: Queryable, catalogue: Catalogue, period: Period, grouping: Grouping, timezone: str
) -> Table:
    codes = [c.code for c in catalogue]
    rows = await conn.fetch(
        _statement(grouping), period.since, period.until, case_categories(catalogue), codes,
        [float(catalogue.get(c).targets.dispatch_s) for c in codes],
        [float(catalogue.get(c).targets.arrive_s) for c in codes],
        list(URGENT_PRIORITIES), float(MOVING_S), float(ON_SCENE_S[0]), float(ON_SCENE_S[1]), timezone,
        MAX_ROWS + 1,
    )  # fmt: skip
    out: list[list[Any]] = []
    for r in rows[:MAX_ROWS]:
        d, a, s = r["dispatch_p"] or [None, None], r["ack_p"] or [None, None], r["arrive_p"] or [None, None]
        raw = [group_name(grouping, r["g"]), r["incidents"], d[0], d[1], r["dispatch_max"], a[0], a[1],
               r["ack_max"], s[0], s[1], r["arrive_max"], r["dispatch_in_target"], r["arrive_in_target"],
               r["urgent"], r["urgent_moving"], r["urgent_scene_a"], r["urgent_scene_b"], r["unreached"],
               r["went_pending"]]  # fmt: skip
        out.append([rounded(v, c.measure) for v, c in zip(raw, COLUMNS, strict=True)])
    about = {
        **period.as_json(), "by": grouping.value, "timezone": timezone,
        "urgent_priorities": list(URGENT_PRIORITIES), "moving_s": MOVING_S, "on_scene_s": list(ON_SCENE_S),
    }  # fmt: skip
    return Table("response", COLUMNS, out, about, truncated=len(rows) > MAX_ROWS)

"""The reports section: a year of a big city's calls (2,000,000 incidents by default) written straight
into the bench's PostgreSQL, then each report asked of the running center over HTTP for the whole year,
as leadership would. The limit beside each is PostgreSQL counting the same year's incidents: the least
a report over those rows can cost on this machine.

The history is generated in SQL (seeded), not lived through: each incident closed, with its canonical
times, one assignment of a unit of the kind its category needs, and one in 33 having waited with nobody
free (an ``incident.pending`` event), which is what the response and offers reports read. Grid cases are
not generated here; their report reads the case book's events through an index of its own."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.clients import Target
from core.roles import Role

YEAR = timedelta(days=365)
RUNS = 3  # each report asked this many times; the slowest is the figure
# category and the unit kind it needs, from the shipped catalogue
CATEGORIES = (("robbery_in_progress", "patrol_car"), ("assault", "patrol_car"), ("theft", "foot_patrol"),
              ("cardiac_arrest", "ambulance"), ("building_fire", "fire_engine"),
              ("collision_injury", "traffic_police"))  # fmt: skip
# what is asked: (report, grouping)
ASKED = (("response", "category"), ("response", "hour"), ("response", "unit_kind"), ("response", "day"),
         ("offers", "category"))  # fmt: skip
UNITS = 600

_UNITS = """
insert into units (callsign, kind, agency, tier, status)
select 'BENCH-R-' || g, ($1::text[])[1 + g % array_length($1::text[], 1)], 'police', 1, 'off_duty'
from generate_series(1, $2) g"""

# times in seconds after the call: to dispatch d, to acknowledge d + a, on the way 5 s later, on scene
# after a travel t, cleared 20 minutes after that; one in 50 never reached
_INCIDENTS = """
insert into incidents (category, priority, status, lat, lon, zone, received_at, created_at,
                       dispatched_at, acknowledged_at, en_route_at, on_scene_at, cleared_at, closed_at)
select ($1::text[])[k], 1 + (g % 4), 'closed', 31.10 + random() * 0.25, 121.30 + random() * 0.30,
       'zone-' || (g % 12), r, r,
       r + d * interval '1 s', r + (d + a) * interval '1 s', r + (d + a + 5) * interval '1 s',
       case when g % 50 = 0 then null else r + (d + a + t) * interval '1 s' end,
       r + (d + a + t + 1200) * interval '1 s', r + (d + a + t + 1260) * interval '1 s'
from (select g, 1 + (g % array_length($1::text[], 1)) as k,
             $2::timestamptz - random() * interval '365 days' as r,
             5 + random() * 120 as d, 3 + random() * 60 as a, 60 + random() * 900 as t
      from generate_series(1, $3) g) s"""

_ASSIGNMENTS = """
with pool as (select kind, array_agg(id order by id) as ids from units
              where callsign like 'BENCH-R-%' group by kind)
insert into assignments (incident_id, unit_id, status, offered_at, accepted_at, en_route_at, on_scene_at,
                         cleared_at, ended_at, end_reason, offered_by)
select i.id, p.ids[1 + i.id % array_length(p.ids, 1)], 'cleared', i.dispatched_at, i.acknowledged_at,
       i.en_route_at, i.on_scene_at, i.cleared_at, i.cleared_at, 'cleared', 'bench'
from incidents i join pool p on p.kind = ($1::text[])[array_position($2::text[], i.category)]
where i.id between $3 and $4"""

_WAITED = """
insert into events (at, kind, actor, incident_id, data)
select received_at + interval '20 s', 'incident.pending', 'bench', id, '{}'
from incidents where id % 33 = 0 and id between $1 and $2"""

_SCAN = "select count(*) from incidents where received_at >= $1 and received_at < $2"


async def generate(database_url: str, incidents: int, until: datetime) -> dict[str, Any]:
    """The year's history; how long writing it took."""
    codes = [c for c, _ in CATEGORIES]
    kinds = [k for _, k in CATEGORIES]
    began = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("select setseed(0.42)")
        await conn.execute(_UNITS, sorted(set(kinds)), UNITS)
        first = int(await conn.fetchval("select coalesce(max(id), 0) + 1 from incidents"))
        await conn.execute(_INCIDENTS, codes, until, incidents)
        last = first + incidents - 1
        await conn.execute(_ASSIGNMENTS, kinds, codes, first, last)
        await conn.execute(_WAITED, first, last)
        await conn.execute("analyze incidents; analyze assignments; analyze units; analyze events")
    finally:
        await conn.close()
    return {"incidents": incidents, "write_s": time.monotonic() - began}


async def scan_ms(database_url: str, since: datetime, until: datetime) -> list[float]:
    """The floor: PostgreSQL counting the period's incidents, as often as each report is asked."""
    conn = await asyncpg.connect(database_url)
    try:
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            await conn.fetchval(_SCAN, since, until)
            times.append((time.perf_counter() - began) * 1000)
        return times
    finally:
        await conn.close()


def ask(target: Target, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """Each report for the period, over HTTP, as a reader's page asks it: milliseconds per run."""
    found: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {target.token(Role.DISPATCHER)}"}
    params = {"since": since.isoformat(), "until": until.isoformat()}
    with httpx.Client(base_url=f"http://{target.host}:{target.port}", headers=headers, timeout=120) as http:
        for report, by in ASKED:
            times, rows = [], 0
            for _ in range(RUNS):
                began = time.perf_counter()
                reply = http.get(f"/api/v1/reports/{report}", params=params | {"by": by})
                times.append((time.perf_counter() - began) * 1000)
                reply.raise_for_status()
                rows = len(reply.json()["rows"])
            found[f"{report}_by_{by}"] = {"report": report, "by": by, "ms": times, "groups": rows}
    return found


def reports_section(run: Any, database_url: str) -> dict[str, Any]:
    plan, say = run.plan, run.say
    until = datetime.now(UTC).replace(microsecond=0)
    since = until - YEAR
    say(f"reports: writing a year of {plan.report_incidents:,} incidents (with their offers) into PostgreSQL")
    written = asyncio.run(generate(database_url, plan.report_incidents, until))
    say(f"reports: each report for the whole year, {RUNS} times, over HTTP")
    return {**written, "asked": ask(run.target, since, until),
            "scan_ms": asyncio.run(scan_ms(database_url, since, until))}  # fmt: skip

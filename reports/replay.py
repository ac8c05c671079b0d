"""One incident's replay: its timeline and, for every unit sent to it, the trail it drove, from the
stored positions, between the call and the end of the incident (bounded: at most MAX_SPAN, and at most
MAX_FIXES fixes per unit, evenly thinned beyond that, the last one always kept)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts import incidents
from core import eventlog
from core.db import Queryable

MAX_SPAN = timedelta(hours=12)
MAX_FIXES = 2000
# where each unit was when it was asked: its fixes from a little before the call
LEAD_IN = timedelta(minutes=10)

_ASSIGNMENTS = """
select a.id, a.unit_id, a.status, a.offered_at, a.accepted_at, a.on_scene_at, a.cleared_at, a.ended_at,
       a.end_reason, u.callsign, u.kind
from assignments a join units u on u.id = a.unit_id where a.incident_id = $1 order by a.id"""

_TRAILS = """
select unit_id, at, lat, lon from (
    select unit_id, at, lat, lon, row_number() over w as n, count(*) over (partition by unit_id) as total
    from positions where unit_id = any($1::bigint[]) and at >= $2 and at <= $3 and not suspect
    window w as (partition by unit_id order by at)
) p
where (n - 1) % greatest(1, ceil(total / $4::float8)::int) = 0 or n = total
order by unit_id, at"""


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


async def replay(conn: Queryable, incident_id: int, now: datetime) -> dict[str, Any]:
    incident = await incidents.get(conn, incident_id)
    timeline = await eventlog.timeline(conn, incident_id)
    sent = await conn.fetch(_ASSIGNMENTS, incident_id)
    start = incident.times["received_at"] or now
    ends = [t for t in (incident.times["closed_at"], incident.times["cleared_at"]) if t]
    ends += [e.at for e in timeline] + [r["ended_at"] for r in sent if r["ended_at"]]
    finished = incident.times["closed_at"] is not None
    end = max(ends) if finished and ends else max([now, *ends])
    end = min(end, start + MAX_SPAN)
    units = sorted({r["unit_id"] for r in sent})
    fixes = await conn.fetch(_TRAILS, units, start - LEAD_IN, end, MAX_FIXES) if units else []
    trails: dict[int, list[list[float]]] = {u: [] for u in units}
    for f in fixes:
        trails[f["unit_id"]].append([_ms(f["at"]), round(f["lat"], 6), round(f["lon"], 6)])
    names = {r["unit_id"]: (r["callsign"], r["kind"]) for r in sent}
    return {
        "incident": {k: v for k, v in incident.as_json().items() if k != "description"},
        "start_ms": _ms(start), "end_ms": _ms(end),
        "events": [e.as_json() | {"at_ms": _ms(e.at)} for e in timeline if e.at <= end],
        "assignments": [
            {"id": r["id"], "unit_id": r["unit_id"], "status": r["status"], "end_reason": r["end_reason"],
             **{k: _ms(r[k]) if r[k] else None
                for k in ("offered_at", "accepted_at", "on_scene_at", "cleared_at", "ended_at")}}
            for r in sent
        ],
        # per unit: [epoch ms, lat, lon], oldest first
        "units": [{"unit_id": u, "callsign": names[u][0], "kind": names[u][1], "fixes": trails[u]}
                  for u in units],
    }  # fmt: skip

"""The incident record: what is being handled, where, how urgent, and its canonical times."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from core import eventlog, transitions
from core.db import Conn, Queryable
from core.errors import Conflict, NotFound
from core.eventlog import Event


class IncidentStatus(StrEnum):
    RECEIVED = "received"  # accepted, not yet seen by a dispatcher process
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # recommendation ready, a dispatcher decides
    PENDING = "pending"  # nobody free to send: waits, with its shortfall
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"  # every unit has cleared; the incident can be closed
    CASE = "case"  # a grid report handled as a case on the escalation ladder, not by dispatch
    CLOSED = "closed"


S = IncidentStatus
OPEN = frozenset(set(IncidentStatus) - {IncidentStatus.CLOSED})
# incidents that still need a unit
UNSERVED = frozenset({IncidentStatus.RECEIVED, IncidentStatus.AWAITING_CONFIRMATION, IncidentStatus.PENDING})
# units are or were on it
SERVED = frozenset({S.DISPATCHED, S.ON_SCENE, S.CLEARED})

# The incident's state machine. Every open status may move to itself: the move then only changes
# what comes with it (a new shortfall, the first dispatch time). Served statuses follow the
# assignments (dispatch/assignments.py, incident_status_for); back to pending when none is left.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.RECEIVED: frozenset({S.RECEIVED, *UNSERVED, S.DISPATCHED, S.CASE, S.CLOSED}),
    S.AWAITING_CONFIRMATION: frozenset({*UNSERVED - {S.RECEIVED}, S.DISPATCHED, S.CLOSED}),
    S.PENDING: frozenset({*UNSERVED - {S.RECEIVED}, S.DISPATCHED, S.CLOSED}),
    S.DISPATCHED: frozenset({*SERVED, S.PENDING, S.CLOSED}),
    S.ON_SCENE: frozenset({*SERVED, S.PENDING, S.CLOSED}),
    S.CLEARED: frozenset({*SERVED, S.PENDING, S.CLOSED}),
    S.CASE: frozenset({S.CASE, S.CLOSED}),
    S.CLOSED: frozenset(),
}

TIMES = ("received_at", "created_at", "dispatched_at", "acknowledged_at", "en_route_at", "on_scene_at",
         "cleared_at", "closed_at")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    category: str
    priority: int
    status: IncidentStatus
    lat: float
    lon: float
    address: str | None
    zone: str | None
    description: str | None
    shortfall: Any
    times: dict[str, datetime | None]
    merged_into: int | None = None
    close_reason: str | None = None

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Incident:
        return cls(
            r["id"], r["category"], r["priority"], IncidentStatus(r["status"]), r["lat"], r["lon"],
            r["address"], r["zone"], r["description"], r["shortfall"], {t: r[t] for t in TIMES},
            r["merged_into"], r["close_reason"],
        )  # fmt: skip

    def intervals(self) -> dict[str, float | None]:
        """The derived intervals, in seconds: processing (call to dispatch), turnout (dispatch to
        acknowledged and moving), travel (moving to on scene), total (call to on scene)."""

        def between(start: str, end: str) -> float | None:
            a, b = self.times[start], self.times[end]
            return round((b - a).total_seconds(), 3) if a and b else None

        return {
            "processing_s": between("received_at", "dispatched_at"),
            "turnout_s": between("dispatched_at", "en_route_at"),
            "travel_s": between("en_route_at", "on_scene_at"),
            "total_s": between("received_at", "on_scene_at"),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "priority": self.priority,
            "status": self.status.value, "lat": self.lat, "lon": self.lon, "address": self.address,
            "zone": self.zone, "description": self.description, "shortfall": self.shortfall,
            "times": {k: v.isoformat() if v else None for k, v in self.times.items()},
            "intervals": self.intervals(), "merged_into": self.merged_into,
            "close_reason": self.close_reason,
        }  # fmt: skip


async def get(conn: Queryable, incident_id: int, lock: bool = False) -> Incident:
    # no key update: writers wait for each other, but a new alert may still be linked to it meanwhile
    sql = "select * from incidents where id = $1" + (" for no key update" if lock else "")
    row = await conn.fetchrow(sql, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}", incident_id=incident_id)
    return Incident.from_row(row)


_KEEP: Any = object()


async def move(
    conn: Conn, incident_id: int, wanted: IncidentStatus, *, only_from: Set[IncidentStatus] = OPEN,
    shortfall: Any = _KEEP, dispatched: bool = False, closed_at: datetime | None = None,
    close_reason: str | None = None, merged_into: int | None = None,
) -> bool:  # fmt: skip
    """The one writer of ``incidents.status``: move the incident to ``wanted`` if its status now is
    one the state machine allows that move from (and among ``only_from``); False when it was not. With
    the move: a new ``shortfall`` (None clears it), the first dispatch time, the cleared time, and for
    a close its time, reason and the incident it was merged into."""
    allowed = transitions.sources(TRANSITIONS, wanted) & only_from
    sets = ["status = $2"]
    args: list[Any] = [incident_id, wanted.value, sorted(s.value for s in allowed)]

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if wanted is S.CLOSED:
        shortfall = None
        sets += [f"closed_at = coalesce({param(closed_at)}, now())", f"close_reason = {param(close_reason)}",
                 f"merged_into = {param(merged_into)}"]  # fmt: skip
    if shortfall is not _KEEP:
        sets.append(f"shortfall = {param(shortfall)}")
    if dispatched:
        sets.append("dispatched_at = coalesce(dispatched_at, now())")
    if wanted is S.CLEARED:
        sets.append("cleared_at = now()")
    changed = await conn.fetchval(
        f"update incidents set {', '.join(sets)} where id = $1 and status = any($3::text[]) returning id",
        *args,
    )
    return changed is not None


# what a dispatcher may correct on an open incident (its status follows its units, never an edit)
EDITABLE = ("priority", "lat", "lon", "address", "description")


async def edit(
    pool: asyncpg.Pool, incident_id: int, wanted: Mapping[str, Any], actor: str
) -> tuple[Incident, list[Event]]:
    """Correct an open incident (a new priority, a better location, notes); only fields that change
    are written, and the event says what each was and is now. No change, no event."""
    async with pool.acquire() as conn, conn.transaction():
        incident = await get(conn, incident_id, lock=True)
        if incident.status is S.CLOSED:
            raise Conflict(f"incident {incident_id} is closed", incident_id=incident_id)
        now = {"priority": incident.priority, "lat": incident.lat, "lon": incident.lon,
               "address": incident.address, "description": incident.description}  # fmt: skip
        changes = {
            f: {"from": now[f], "to": wanted[f]} for f in EDITABLE if f in wanted and wanted[f] != now[f]
        }
        if not changes:
            return incident, []
        sets = ", ".join(f"{f} = ${n}" for n, f in enumerate(changes, start=2))
        await conn.execute(f"update incidents set {sets} where id = $1", incident_id,
                           *(c["to"] for c in changes.values()))  # fmt: skip
        edited = await get(conn, incident_id)
        event = await eventlog.append(
            conn, "incident.updated", actor, incident_id=incident_id,
            data={"changes": changes, "priority": edited.priority, "lat": edited.lat, "lon": edited.lon,
                  "address": edited.address, "status": edited.status.value},
        )  # fmt: skip
    return edited, [event]


async def open_incidents(
    conn: Queryable, limit: int = 1000, after: tuple[int, datetime, int] | None = None
) -> list[Incident]:
    """Open incidents, most urgent and oldest first; ``after`` a (priority, received_at, id) sort key:
    those that follow it (a page of the list)."""
    if after is None:
        rows = await conn.fetch(
            "select * from incidents where closed_at is null order by priority, received_at, id limit $1",
            limit,
        )
    else:
        rows = await conn.fetch(
            """select * from incidents where closed_at is null and (priority, received_at, id) > ($2, $3, $4)
               order by priority, received_at, id limit $1""",
            limit, *after,
        )  # fmt: skip
    return [Incident.from_row(r) for r in rows]


async def alerts_of(conn: Queryable, incident_id: int, caller_data: bool) -> list[dict[str, Any]]:
    """The alerts of one incident, oldest first; the caller's phone and name masked unless
    ``caller_data`` (the roles that may see them)."""
    rows = await conn.fetch(
        """select id, channel, category, priority, lat, lon, orig_lat, orig_lon, coord_system, address,
                  description, caller_phone, caller_name, received_at
           from alerts where incident_id = $1 order by id""",
        incident_id,
    )
    found = []
    for r in rows:
        alert = dict(r) | {"received_at": r["received_at"].isoformat()}
        if not caller_data:
            alert["caller_phone"] = mask(alert["caller_phone"])
            alert["caller_name"] = mask(alert["caller_name"])
        found.append(alert)
    return found


def mask(value: str | None) -> str | None:
    """Enough of a phone number or a name to tell two callers apart, not to call them."""
    if not value:
        return value
    return value[:3] + "*" * max(0, len(value) - 5) + value[-2:] if len(value) > 5 else "*" * len(value)

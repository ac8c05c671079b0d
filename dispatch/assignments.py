"""The assignment lifecycle: one unit sent to one incident, and the unit status each step implies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from alerts.incidents import IncidentStatus
from core.db import Queryable
from units.status import UnitStatus


class AssignmentStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


A = AssignmentStatus
# the steps a unit (or the route on its behalf) names, by their word on the wire
STEPS: dict[str, AssignmentStatus] = {
    "accept": A.ACCEPTED,
    "decline": A.DECLINED,
    "arrive": A.ON_SCENE,
    "clear": A.CLEARED,
}
ACTIVE = frozenset({A.OFFERED, A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE})
ENDED = frozenset(set(A) - ACTIVE)
# ended by the unit's refusal or silence: that unit is not asked again for the same incident
REFUSED = frozenset({A.DECLINED, A.TIMED_OUT})

TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    A.OFFERED: frozenset({A.ACCEPTED, A.DECLINED, A.TIMED_OUT, A.CANCELLED}),
    A.ACCEPTED: frozenset({A.EN_ROUTE, A.ON_SCENE, A.CANCELLED}),
    A.EN_ROUTE: frozenset({A.ON_SCENE, A.CANCELLED}),
    A.ON_SCENE: frozenset({A.CLEARED}),
    **{s: frozenset() for s in ENDED},
}

# the unit's status once its assignment reaches this one
UNIT_STATUS_AFTER: dict[AssignmentStatus, UnitStatus] = {
    A.OFFERED: UnitStatus.OFFERED,
    A.ACCEPTED: UnitStatus.EN_ROUTE,
    A.EN_ROUTE: UnitStatus.EN_ROUTE,
    A.ON_SCENE: UnitStatus.ON_SCENE,
    A.CLEARED: UnitStatus.AVAILABLE,
    A.DECLINED: UnitStatus.AVAILABLE,
    A.TIMED_OUT: UnitStatus.AVAILABLE,
    A.CANCELLED: UnitStatus.AVAILABLE,
}


def incident_status_for(statuses: Iterable[AssignmentStatus]) -> IncidentStatus:
    """The status an incident's assignments give it: on scene while any unit is there, dispatched
    while any is on its way or offered, cleared once one cleared and none is left, else pending."""
    seen = set(statuses)
    if A.ON_SCENE in seen:
        return IncidentStatus.ON_SCENE
    if seen & ACTIVE:
        return IncidentStatus.DISPATCHED
    if A.CLEARED in seen:
        return IncidentStatus.CLEARED
    return IncidentStatus.PENDING


# the column that records when an assignment reached a status
TIME_COLUMN: dict[AssignmentStatus, str] = {
    A.ACCEPTED: "accepted_at",
    A.EN_ROUTE: "en_route_at",
    A.ON_SCENE: "on_scene_at",
    A.CLEARED: "cleared_at",
}


@dataclass(frozen=True, slots=True)
class OnIncident:
    """A unit that is, or was, on an incident: what its assignment says."""

    unit_id: int
    kind: str
    status: AssignmentStatus


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    incident_id: int
    unit_id: int
    status: AssignmentStatus
    offered_at: datetime
    offer_deadline: datetime | None
    accepted_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    travel_s: float | None
    distance_m: float | None
    reasons: tuple[str, ...]
    route: dict[str, Any] | None = None  # {"eta_s", "distance_m", "geometry": [[lat, lon], ...]}

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Assignment:
        return cls(
            r["id"], r["incident_id"], r["unit_id"], AssignmentStatus(r["status"]), r["offered_at"],
            r["offer_deadline"], r["accepted_at"], r["en_route_at"], r["on_scene_at"], r["cleared_at"],
            r["ended_at"], r["end_reason"], r["travel_s"], r["distance_m"], tuple(r["reasons"]),
            r.get("route"),
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "id": self.id, "incident_id": self.incident_id, "unit_id": self.unit_id,
            "status": self.status.value, "offered_at": iso(self.offered_at),
            "offer_deadline": iso(self.offer_deadline), "accepted_at": iso(self.accepted_at),
            "en_route_at": iso(self.en_route_at), "on_scene_at": iso(self.on_scene_at),
            "cleared_at": iso(self.cleared_at), "ended_at": iso(self.ended_at),
            "end_reason": self.end_reason, "travel_s": self.travel_s, "distance_m": self.distance_m,
            "reasons": list(self.reasons), "route": self.route,
        }  # fmt: skip


async def active_for_unit(conn: Queryable, unit_id: int) -> list[Assignment]:
    rows = await conn.fetch(
        "select * from assignments where unit_id = $1 and status = any($2::text[]) order by id",
        unit_id, [s.value for s in ACTIVE],
    )  # fmt: skip
    return [Assignment.from_row(r) for r in rows]


async def for_incident(conn: Queryable, incident_id: int) -> list[Assignment]:
    rows = await conn.fetch("select * from assignments where incident_id = $1 order by id", incident_id)
    return [Assignment.from_row(r) for r in rows]


async def all_active(conn: Queryable) -> list[Assignment]:
    rows = await conn.fetch(
        "select * from assignments where status = any($1::text[]) order by id", [s.value for s in ACTIVE]
    )
    return [Assignment.from_row(r) for r in rows]


async def on_incident(conn: Queryable, incident_id: int) -> list[OnIncident]:
    """Every unit an incident was offered to, with the unit's kind and the assignment's status."""
    rows = await conn.fetch(
        """select a.unit_id, a.status, u.kind from assignments a join units u on u.id = a.unit_id
           where a.incident_id = $1 order by a.id""",
        incident_id,
    )
    return [OnIncident(r["unit_id"], r["kind"], AssignmentStatus(r["status"])) for r in rows]


async def refusals(conn: Queryable, incident_ids: list[int]) -> set[tuple[int, int]]:
    """(incident, unit) pairs where the unit declined or let its offer lapse: not asked again."""
    rows = await conn.fetch(
        """select incident_id, unit_id from assignments
           where incident_id = any($1::bigint[]) and status = any($2::text[])""",
        incident_ids, [s.value for s in REFUSED],
    )  # fmt: skip
    return {(r["incident_id"], r["unit_id"]) for r in rows}

"""The incident record: what is being handled, where, how urgent, and its canonical times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from core.db import Queryable
from core.errors import NotFound


class IncidentStatus(StrEnum):
    RECEIVED = "received"  # accepted, not yet seen by a dispatcher process
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # recommendation ready, a dispatcher decides
    PENDING = "pending"  # nobody free to send: waits, with its shortfall
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"  # every unit has cleared; the incident can be closed
    CASE = "case"  # a grid report handled as a case on the escalation ladder, not by dispatch
    CLOSED = "closed"


OPEN = frozenset(set(IncidentStatus) - {IncidentStatus.CLOSED})
# incidents that still need a unit
UNSERVED = frozenset({IncidentStatus.RECEIVED, IncidentStatus.AWAITING_CONFIRMATION, IncidentStatus.PENDING})

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


async def open_incidents(conn: Queryable, limit: int = 1000) -> list[Incident]:
    rows = await conn.fetch(
        "select * from incidents where closed_at is null order by priority, received_at limit $1", limit
    )
    return [Incident.from_row(r) for r in rows]

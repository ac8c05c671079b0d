"""The append-only event log: every state change, timestamped, with its actor.

Events are written in the same transaction as the change they describe (PostgreSQL is the system of
record); after commit the caller hands them to the live feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.db import Conn, Queryable


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded state change. ``kind`` is past tense: ``incident.created``, ``assignment.offered``."""

    id: int
    at: datetime
    kind: str
    actor: str
    incident_id: int | None = None
    unit_id: int | None = None
    assignment_id: int | None = None
    alert_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "incident_id": self.incident_id,
            "unit_id": self.unit_id,
            "assignment_id": self.assignment_id,
            "alert_id": self.alert_id,
            "data": dict(self.data),
        }


_INSERT = """
insert into events (kind, actor, incident_id, unit_id, assignment_id, alert_id, data)
values ($1, $2, $3, $4, $5, $6, $7)
returning id, at
"""


async def append(
    conn: Conn,
    kind: str,
    actor: str,
    *,
    incident_id: int | None = None,
    unit_id: int | None = None,
    assignment_id: int | None = None,
    alert_id: int | None = None,
    data: Mapping[str, Any] | None = None,
) -> Event:
    """Record one event inside the caller's transaction."""
    payload = dict(data or {})
    row = await conn.fetchrow(_INSERT, kind, actor, incident_id, unit_id, assignment_id, alert_id, payload)
    assert row is not None
    return Event(row["id"], row["at"], kind, actor, incident_id, unit_id, assignment_id, alert_id, payload)


async def timeline(conn: Queryable, incident_id: int) -> list[Event]:
    """Every event of one incident, oldest first."""
    rows = await conn.fetch(
        "select * from events where incident_id = $1 order by id",
        incident_id,
    )
    return [
        Event(
            r["id"],
            r["at"],
            r["kind"],
            r["actor"],
            r["incident_id"],
            r["unit_id"],
            r["assignment_id"],
            r["alert_id"],
            r["data"],
        )
        for r in rows
    ]

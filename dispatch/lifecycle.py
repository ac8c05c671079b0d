"""The assignment lifecycle after the offer: a unit's acknowledgements, a dispatcher's cancel, reassign
and close, and what follows each step (the unit's status, the incident's status and canonical times,
a replacement for a unit that declined or let its offer lapse, a freed unit's next incident). Every
method returns the events of what it wrote, for its caller (a route, a socket, a job) to publish."""

from __future__ import annotations

import logging

import asyncpg
from redis.exceptions import RedisError

from alerts import incidents
from alerts.catalogue import Catalogue
from alerts.incidents import IncidentStatus
from core import eventlog, transitions
from core.db import Conn
from core.errors import Conflict, DomainError, NotFound
from core.eventlog import Event
from dispatch.assignments import (
    ACTIVE,
    REFUSED,
    TIME_COLUMN,
    TRANSITIONS,
    UNIT_STATUS_AFTER,
    Assignment,
    active_for_unit,
    incident_status_for,
)
from dispatch.assignments import AssignmentStatus as A
from dispatch.decisions import waiting_status
from dispatch.dispatcher import Dispatcher
from dispatch.pending import PendingList
from units.roster import Roster, Unit
from units.status import UnitStatus, dispatchable

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(
        self, pool: asyncpg.Pool, roster: Roster, dispatcher: Dispatcher, pending: PendingList,
        catalogue: Catalogue,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.roster = roster
        self.dispatcher = dispatcher
        self.pending = pending
        self.catalogue = catalogue

    async def advance(
        self, assignment_id: int, wanted: A, actor: str, unit_id: int | None = None, reason: str | None = None
    ) -> tuple[Assignment, list[Event]]:
        """Move an assignment one step (accept, arrive, clear, decline, cancel, time out); the unit's
        status follows. ``unit_id`` given: only that unit's own assignment may move."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("select * from assignments where id = $1 for update", assignment_id)
            if row is None or (unit_id is not None and row["unit_id"] != unit_id):
                raise NotFound(f"no assignment {assignment_id}", assignment_id=assignment_id)
            current = A(row["status"])
            transitions.check("an assignment", TRANSITIONS, current, wanted)
            sets = ["status = $2"]
            if wanted in TIME_COLUMN:
                sets.append(f"{TIME_COLUMN[wanted]} = now()")
            if wanted is A.ACCEPTED:
                sets.append("en_route_at = now()")  # accepting means moving
            if wanted not in ACTIVE:
                sets += ["ended_at = now()", "end_reason = $3"]
            updated = await conn.fetchrow(
                f"update assignments set {', '.join(sets)} where id = $1 returning *",
                assignment_id, wanted.value, *([reason or wanted.value] if wanted not in ACTIVE else []),
            )  # fmt: skip
            assert updated is not None
            assignment = Assignment.from_row(updated)
            unit, unit_events = await self._unit_follows(conn, assignment, wanted, actor)
            incident_status = await _incident_follows(conn, assignment.incident_id, wanted)
            event = await eventlog.append(
                conn, f"assignment.{wanted.value}", actor, incident_id=assignment.incident_id,
                unit_id=assignment.unit_id, assignment_id=assignment_id,
                data={**assignment.as_json(), "callsign": unit.callsign,
                      "incident_status": incident_status, "alarm": wanted is A.TIMED_OUT},
            )  # fmt: skip
        await self.roster.sync_live([unit])
        return assignment, [*unit_events, event, *await self._follow_up(assignment, unit, actor)]

    async def _unit_follows(
        self, conn: Conn, assignment: Assignment, step: A, actor: str
    ) -> tuple[Unit, list[Event]]:
        """The unit's status that the assignment's step implies; no change (and no event) when the
        unit is in it already (accepted -> en route: the unit is on its way since it accepted)."""
        wanted = UNIT_STATUS_AFTER[step]
        unit = await self.roster.get(assignment.unit_id, conn)
        if unit.status is wanted:
            return unit, []
        unit, event = await self.roster.change_status_in(
            conn, assignment.unit_id, wanted, actor,
            data={"incident_id": assignment.incident_id, "assignment_id": assignment.id},
        )  # fmt: skip
        return unit, [event]

    async def _follow_up(self, assignment: Assignment, unit: Unit, actor: str) -> list[Event]:
        """After commit: replace a unit that declined or went silent; give a freed unit the next
        incident. The step itself stands whatever happens here; the periodic sweep retries."""
        events: list[Event] = []
        try:
            if assignment.status in REFUSED:
                events += await self.replace(assignment.incident_id, actor)
            if dispatchable(unit.status):
                events += (await self.pending.unit_freed(unit.id, actor))[1]
        except (asyncpg.PostgresError, RedisError, OSError, DomainError):
            log.exception("follow-up of assignment %s failed; the pending sweep will retry", assignment.id)
        return events

    async def replace(self, incident_id: int, actor: str) -> list[Event]:
        """Ask the next candidate for what the plan still lacks; with nobody left, the incident waits
        on the pending list (or goes back to a dispatcher, where a dispatcher confirms)."""
        incident = await incidents.get(self.pool, incident_id)
        if incident.status is IncidentStatus.CLOSED:
            return []
        auto = self.catalogue.get(incident.category).auto_dispatch
        events: list[Event] = []
        if auto:
            offered, events = await self.dispatcher.refill(incident_id, actor)
            if offered:
                return events
        if incident.status in (IncidentStatus.PENDING, IncidentStatus.AWAITING_CONFIRMATION):
            rec = await self.dispatcher.recommendation(incident_id, remaining=True)
            events += await self.dispatcher.set_waiting(incident_id, waiting_status(auto), rec, actor)
        return events

    async def cancel(
        self, assignment_id: int, actor: str, reason: str | None = None
    ) -> tuple[Assignment, list[Event]]:
        """A dispatcher stands a unit down; no replacement is asked for."""
        return await self.advance(
            assignment_id, A.CANCELLED, actor, reason=reason or "cancelled by dispatcher"
        )

    async def reassign(
        self, assignment_id: int, unit_id: int, actor: str
    ) -> tuple[Assignment, Assignment, list[Event]]:
        """Send another unit instead: the new one is offered first, so the incident is never left bare."""
        row = await self.pool.fetchrow(
            "select incident_id, status from assignments where id = $1", assignment_id
        )
        if row is None:
            raise NotFound(f"no assignment {assignment_id}", assignment_id=assignment_id)
        if A(row["status"]) not in ACTIVE:
            raise Conflict(f"assignment {assignment_id} has ended", status=row["status"])
        offered, refused, events = await self.dispatcher.send(row["incident_id"], [unit_id], actor)
        if not offered:
            raise Conflict(f"unit {unit_id} cannot be sent", refused=refused)
        reason = f"reassigned to unit {unit_id}"
        old, more = await self.advance(assignment_id, A.CANCELLED, actor, reason=reason)
        return old, offered[0], events + more

    async def close(
        self, incident_id: int, actor: str, reason: str | None = None
    ) -> tuple[incidents.Incident, list[Event]]:
        """Close an incident; refused while units are still on it."""
        async with self.pool.acquire() as conn, conn.transaction():
            incident = await incidents.get(conn, incident_id, lock=True)
            if incident.status is IncidentStatus.CLOSED:
                raise Conflict(f"incident {incident_id} is already closed", incident_id=incident_id)
            running = await conn.fetch(
                "select id from assignments where incident_id = $1 and status = any($2::text[])",
                incident_id, [s.value for s in ACTIVE],
            )  # fmt: skip
            if running:
                raise Conflict(
                    f"incident {incident_id} still has units on it; clear or cancel them first",
                    assignments=[r["id"] for r in running],
                )
            await incidents.move(conn, incident_id, IncidentStatus.CLOSED, close_reason=reason or "resolved")
            event = await eventlog.append(
                conn, "incident.closed", actor, incident_id=incident_id,
                data={"status": IncidentStatus.CLOSED.value, "reason": reason or "resolved"},
            )  # fmt: skip
            closed = await incidents.get(conn, incident_id)
        return closed, [event]

    async def report_status(self, unit_id: int, wanted: UnitStatus, actor: str) -> tuple[Unit, list[Event]]:
        """A status the unit sets itself (available, off duty, ...); a unit coming free takes the most
        urgent waiting incident it can serve."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("select 1 from units where id = $1 for update", unit_id)  # vs. offers
            running = await active_for_unit(conn, unit_id)
            # on an assignment, the unit's status follows the assignment; an ambulance on scene may
            # still report that it is transporting the patient
            if running and not (wanted is UnitStatus.TRANSPORTING and running[0].status is A.ON_SCENE):
                raise Conflict(
                    f"unit {unit_id} is on assignment {running[0].id} ({running[0].status.value}): "
                    "accept, decline, arrive or clear it, or ask a dispatcher to cancel it",
                    assignments=[a.id for a in running], status=running[0].status.value,
                )  # fmt: skip
            unit, event = await self.roster.change_status_in(conn, unit_id, wanted, actor)
        await self.roster.sync_live([unit])
        events = [event]
        if dispatchable(unit.status):
            try:
                events += (await self.pending.unit_freed(unit.id, actor))[1]
            except (asyncpg.PostgresError, RedisError, OSError, DomainError):
                log.exception("unit %s freed but not offered; the pending sweep will retry", unit_id)
        return unit, events


async def _incident_follows(conn: Conn, incident_id: int, step: A) -> str:
    """Record the incident's canonical times and status implied by one of its assignments."""
    column = {A.ACCEPTED: "acknowledged_at", A.ON_SCENE: "on_scene_at"}.get(step)
    if column:
        await conn.execute(
            f"update incidents set {column} = coalesce({column}, now()) where id = $1", incident_id
        )
    if step is A.ACCEPTED:
        await conn.execute(
            "update incidents set en_route_at = coalesce(en_route_at, now()) where id = $1", incident_id
        )
    rows = await conn.fetch("select status from assignments where incident_id = $1", incident_id)
    status = incident_status_for(A(r["status"]) for r in rows)
    await incidents.move(conn, incident_id, status)
    return status.value

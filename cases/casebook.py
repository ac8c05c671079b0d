"""Grid cases in PostgreSQL: opening one for a grid report, each workflow step, supervision, and the
deadline check the scheduler wakes (reminder, warning, overdue and escalation). Every step is an event
with its actor. Time comes from an injected clock, so that tests can walk a case across weekends and
holidays; deadlines are stored, so a restart loses nothing.

Dates a client sends are bounded: a supervision deadline lies in the future and at most
``SUPERVISION_MAX_AHEAD`` ahead. The deadline check is bounded too, and one case it cannot compute (a bad
row from before these bounds, a calendar that refuses the span) is logged and skipped: it never stops the
other cases being checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from alerts import incidents
from alerts.catalogue import Catalogue
from alerts.incidents import IncidentStatus
from cases.status import (
    ENDED,
    RUNNING,
    TRANSITIONS,
    CaseStatus,
    Holder,
    Level,
    Mark,
    Place,
    deadline_for,
    due_marks,
    may_act,
    may_supervise,
    next_level,
    place_of,
)
from cases.workdays import WorkCalendar
from core import eventlog, transitions
from core.db import Conn
from core.errors import Conflict, Invalid, NotFound
from core.eventlog import Event

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# the furthest ahead a supervision record may set a case's new deadline
SUPERVISION_MAX_AHEAD = timedelta(days=366)
# errors of the stores themselves: the whole check stops (the job runs again next time) instead of
# logging the same outage once per case
_STORE_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
_MARK_COLUMN = {Mark.REMINDER: "reminded_at", Mark.WARNING: "warned_at", Mark.OVERDUE: "overdue_at"}


def system_clock() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def case_json(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"], "alert_id": r["alert_id"], "incident_id": r["incident_id"], "category": r["category"],
        "status": r["status"], "level": r["level"], "town": r["town"], "community": r["community"],
        "grid_cell": r["grid_cell"], "reported_by": r["reported_by"], "assignee": r["assignee"],
        "opened_at": _iso(r["opened_at"]), "level_started_at": _iso(r["level_started_at"]),
        "deadline": _iso(r["deadline"]), "reminded_at": _iso(r["reminded_at"]),
        "warned_at": _iso(r["warned_at"]), "overdue_at": _iso(r["overdue_at"]),
        "resolution": r["resolution"], "return_reason": r["return_reason"], "closed_at": _iso(r["closed_at"]),
    }  # fmt: skip


class CaseBook:
    def __init__(
        self, pool: asyncpg.Pool, catalogue: Catalogue, calendar: WorkCalendar, clock: Clock = system_clock
    ) -> None:
        self.pool = pool
        self.catalogue = catalogue
        self.calendar = calendar
        self.clock = clock
        self._bad_cases: set[int] = set()  # cases the deadline check could not compute, logged once

    def calendar_status(self) -> dict[str, Any]:
        """The working-day calendar's coverage: the last day it knows, and the years soon needed that
        it has no holiday data for (an alarm on the wall and the console)."""
        return self.calendar.coverage(self.clock())

    async def open_in(self, conn: Conn, alert_id: int, incident_id: int, actor: str) -> list[Event]:
        """Open the case of a grid report inside the caller's transaction (once per alert)."""
        alert = await conn.fetchrow("select category, zone, reported_by from alerts where id = $1", alert_id)
        assert alert is not None
        category = self.catalogue.get(alert["category"])
        place = place_of(alert["zone"])
        now = self.clock()
        deadline = deadline_for(self.calendar, Level.COMMUNITY, now, category.case_limit_days)
        row = await conn.fetchrow(
            """insert into grid_cases (alert_id, incident_id, category, status, level, town, community,
                   grid_cell, reported_by, opened_at, level_started_at, deadline)
               values ($1, $2, $3, 'reported', 'community', $4, $5, $6, $7, $8, $8, $9)
               on conflict (alert_id) do nothing returning *""",
            alert_id, incident_id, category.code, place.town, place.community, place.grid_cell,
            alert["reported_by"], now, deadline,
        )  # fmt: skip
        if row is None:
            return []
        await incidents.move(conn, incident_id, IncidentStatus.CASE)
        return [await eventlog.append(
            conn, "case.opened", actor, incident_id=incident_id, alert_id=alert_id,
            data={**case_json(row), "incident_status": IncidentStatus.CASE.value},
        )]  # fmt: skip

    async def get(self, case_id: int) -> dict[str, Any]:
        row = await self.pool.fetchrow("select * from grid_cases where id = $1", case_id)
        if row is None:
            raise NotFound(f"no case {case_id}", case_id=case_id)
        supervisions = await self.pool.fetch(
            """select by, note, old_deadline, new_deadline, at from case_supervisions
               where case_id = $1 order by id""",
            case_id,
        )
        return case_json(row) | {"supervisions": [
            {"by": s["by"], "note": s["note"], "old_deadline": _iso(s["old_deadline"]),
             "new_deadline": _iso(s["new_deadline"]), "at": _iso(s["at"])} for s in supervisions
        ]}  # fmt: skip

    async def _locked(self, conn: Conn, case_id: int) -> asyncpg.Record:
        row: asyncpg.Record | None = await conn.fetchrow(
            "select * from grid_cases where id = $1 for update", case_id
        )
        if row is None:
            raise NotFound(f"no case {case_id}", case_id=case_id)
        return row

    async def step(
        self, case_id: int, wanted: CaseStatus, actor: str, holder: Holder | None, *,
        assignee: str | None = None, note: str | None = None,
    ) -> tuple[dict[str, Any], list[Event]]:  # fmt: skip
        """One workflow step by a person of the level holding the case (``holder`` None: an admin).
        The reporter may also verify a resolution."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._locked(conn, case_id)
            current, level = CaseStatus(row["status"]), Level(row["level"])
            place = Place(row["town"], row["community"], row["grid_cell"])
            reporter_verifies = wanted is CaseStatus.VERIFIED and actor == row["reported_by"]
            if holder is not None and not reporter_verifies and not may_act(holder, level, place):
                raise Conflict(
                    f"case {case_id} is held at the {level.value} level of {place.town}; "
                    "only its people act on it",
                    level=level.value, town=place.town, community=place.community,
                )  # fmt: skip
            transitions.check("a case", TRANSITIONS, current, wanted)
            if wanted is CaseStatus.ASSIGNED and not assignee:
                raise Invalid(
                    "say to whom: a grid worker, a community team or a department", field="assignee"
                )
            if wanted is CaseStatus.RETURNED and not note:
                raise Invalid("a case is returned with a reason", field="note")
            now = self.clock()
            updated = await conn.fetchrow(
                """update grid_cases set status = $2, assignee = coalesce($3, assignee),
                       resolution = case when $2 = 'resolved' then $4 else resolution end,
                       return_reason = case when $2 = 'returned' then $4 else return_reason end,
                       closed_at = case when $2 in ('closed', 'returned') then $5 else closed_at end
                   where id = $1 returning *""",
                case_id, wanted.value, assignee, note, now,
            )  # fmt: skip
            assert updated is not None
            if wanted in ENDED:
                await incidents.move(
                    conn, row["incident_id"], IncidentStatus.CLOSED, closed_at=now,
                    close_reason=f"case {wanted.value}",
                )  # fmt: skip
            event = await eventlog.append(
                conn, f"case.{wanted.value}", actor, incident_id=row["incident_id"], alert_id=row["alert_id"],
                data={**case_json(updated), "from": current.value, "note": note},
            )  # fmt: skip
        return case_json(updated), [event]

    async def supervise(
        self, case_id: int, actor: str, holder: Holder | None, note: str, new_deadline: datetime
    ) -> tuple[dict[str, Any], list[Event]]:
        """A supervision record (督办) with a new deadline; the marks start over against it."""
        ahead = new_deadline - self.clock()  # a difference of aware moments: never overflows
        if ahead <= timedelta(0):
            raise Invalid("the new deadline must be in the future", field="deadline")
        if ahead > SUPERVISION_MAX_AHEAD:
            raise Invalid(
                f"the new deadline may be at most {SUPERVISION_MAX_AHEAD.days} days ahead",
                field="deadline", max_days_ahead=SUPERVISION_MAX_AHEAD.days,
            )  # fmt: skip
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._locked(conn, case_id)
            place = Place(row["town"], row["community"], row["grid_cell"])
            if holder is not None and not may_supervise(holder, Level(row["level"]), place):
                raise Conflict(f"supervision of case {case_id} comes from its level or one above it",
                               level=row["level"], town=place.town)  # fmt: skip
            if CaseStatus(row["status"]) in ENDED:
                raise Conflict(f"case {case_id} has ended", status=row["status"])
            now = self.clock()
            await conn.execute(
                """insert into case_supervisions (case_id, by, note, old_deadline, new_deadline, at)
                   values ($1, $2, $3, $4, $5, $6)""",
                case_id, actor, note, row["deadline"], new_deadline, now,
            )  # fmt: skip
            updated = await conn.fetchrow(
                """update grid_cases set deadline = $2, reminded_at = null, warned_at = null,
                       overdue_at = null
                   where id = $1 returning *""",
                case_id, new_deadline,
            )  # fmt: skip
            assert updated is not None
            event = await eventlog.append(
                conn, "case.supervised", actor, incident_id=row["incident_id"], alert_id=row["alert_id"],
                data={**case_json(updated), "note": note, "old_deadline": _iso(row["deadline"])},
            )  # fmt: skip
        return case_json(updated), [event]

    async def check_deadlines(self, actor: str = "system:case-timer", limit: int = 500) -> list[Event]:
        """Give every running case the marks now due; an overdue case goes up a level (at the county it
        stays overdue). Run by the scheduler, and at once after a start. A case that cannot be checked
        is logged and skipped, and the others are checked all the same."""
        now = self.clock()
        ids = await self.pool.fetch(
            """select id from grid_cases where closed_at is null and deadline is not null
                 and status = any($1::text[]) and overdue_at is null order by deadline limit $2""",
            [s.value for s in RUNNING], limit,
        )  # fmt: skip
        events: list[Event] = []
        for r in ids:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    found = await self._check_one(conn, r["id"], now, actor)
            except _STORE_DOWN:
                raise
            except Exception:  # one bad case must not stop the others: its transaction rolled back
                if r["id"] not in self._bad_cases:
                    self._bad_cases.add(r["id"])
                    log.warning("case %d: its deadline could not be checked; the other cases go on "
                                "(logged once)", r["id"], exc_info=True)  # fmt: skip
                continue
            events += found
        return events

    async def _check_one(self, conn: Conn, case_id: int, now: datetime, actor: str) -> list[Event]:
        row = await self._locked(conn, case_id)
        if row["deadline"] is None or CaseStatus(row["status"]) not in RUNNING or row["overdue_at"]:
            return []
        given = frozenset(m for m, column in _MARK_COLUMN.items() if row[column] is not None)
        progress = self.calendar.progress(row["level_started_at"], row["deadline"], now)
        events = []
        for mark in due_marks(progress, given):
            await conn.execute(f"update grid_cases set {_MARK_COLUMN[mark]} = $2 where id = $1", case_id, now)
            events.append(await eventlog.append(
                conn, f"case.{mark.value}", actor, incident_id=row["incident_id"], alert_id=row["alert_id"],
                data={"case_id": case_id, "level": row["level"], "town": row["town"],
                      "deadline": _iso(row["deadline"]), "progress": round(progress, 3)},
            ))  # fmt: skip
            if mark is Mark.OVERDUE:
                events += await self._escalate(conn, row, now, actor, "overdue")
        return events

    async def _escalate(
        self, conn: Conn, row: asyncpg.Record, now: datetime, actor: str, why: str
    ) -> list[Event]:
        up = next_level(Level(row["level"]))
        if up is None:
            return []  # the county holds it, overdue, until it is resolved
        category = self.catalogue.get(row["category"])
        deadline = deadline_for(self.calendar, up, now, category.case_limit_days)
        updated = await conn.fetchrow(
            """update grid_cases set level = $2, status = 'reported', level_started_at = $3, deadline = $4,
                   reminded_at = null, warned_at = null, overdue_at = null, assignee = null
               where id = $1 returning *""",
            row["id"], up.value, now, deadline,
        )  # fmt: skip
        assert updated is not None
        return [await eventlog.append(
            conn, "case.escalated", actor, incident_id=row["incident_id"], alert_id=row["alert_id"],
            data={**case_json(updated), "from_level": row["level"], "reason": why},
        )]  # fmt: skip

    async def escalate(self, case_id: int, actor: str, holder: Holder | None, reason: str) -> list[Event]:
        """The level holding a case sends it up before its deadline (too big a matter for it)."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._locked(conn, case_id)
            place = Place(row["town"], row["community"], row["grid_cell"])
            if holder is not None and not may_act(holder, Level(row["level"]), place):
                raise Conflict(f"case {case_id} is held at another level or area", level=row["level"])
            if CaseStatus(row["status"]) not in RUNNING:
                raise Conflict(f"case {case_id} is {row['status']}", status=row["status"])
            events = await self._escalate(conn, row, self.clock(), actor, reason)
            if not events:
                raise Conflict("the county is the top of the ladder", level=row["level"])
        return events

    async def queue(
        self, level: Level, area: str | None, limit: int = 500,
        after: tuple[str, datetime, int] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Open cases held at one level (for a town or community, or the whole county), soonest
        deadline first (none last); ``after`` a (deadline as ISO 8601 or 'infinity', opened_at, id)
        sort key: those that follow it (a page of the queue)."""
        rows = await self.pool.fetch(
            """select * from grid_cases where closed_at is null and level = $1
                 and ($2::text is null or town = $2 or community = $2)
                 and ($4::text is null
                      or (coalesce(deadline, 'infinity'), opened_at, id) > ($4::text::timestamptz, $5, $6))
               order by coalesce(deadline, 'infinity'), opened_at, id limit $3""",
            level.value, area, limit, *(after or (None, None, None)),
        )  # fmt: skip
        return [case_json(r) for r in rows]

    async def overdue_by_town(self) -> dict[str, int]:
        """Open cases past a deadline, per town: a figure of the wall screen."""
        rows = await self.pool.fetch(
            """select town, count(*) as n from grid_cases
               where closed_at is null and status = any($1::text[])
                 and (overdue_at is not null or deadline < $2)
               group by town order by town""",
            [s.value for s in RUNNING], self.clock(),
        )  # fmt: skip
        return {r["town"]: r["n"] for r in rows}

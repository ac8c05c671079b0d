"""An offer: a unit claimed for an incident, so that no unit is ever given two incidents.

The claim is atomic in Redis (first gate, fast) and guarded by PostgreSQL (the unit status
compare-and-set plus the unique index on active assignments). The loser of a race takes the next
candidate the recommendation listed. Every write returns its events; the caller's edge publishes them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from redis.exceptions import RedisError

from alerts import incidents
from alerts.incidents import UNSERVED, IncidentStatus
from core import eventlog
from core.db import Conn
from core.errors import Conflict, NotFound
from core.eventlog import Event
from core.transitions import IllegalTransition
from dispatch.assignments import Assignment
from dispatch.decisions import replacement
from dispatch.recommend import Ranked, Recommendation
from dispatch.routes import route_json
from units.live import LiveIndex
from units.roster import Roster, Unit
from units.status import UnitStatus

log = logging.getLogger(__name__)

# seconds a unit has to acknowledge an offer, by priority
OFFER_TIMEOUT_S: Mapping[int, int] = {1: 30, 2: 45, 3: 60, 4: 120}


@dataclass(slots=True)
class Claims:
    """The units one transaction claimed in Redis: ``held`` (its records are in the transaction),
    ``lost`` (refused by PostgreSQL: back to what it says, after the transaction), and the units whose
    offers it wrote (their status version goes to Redis after commit)."""

    held: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    offered: list[Unit] = field(default_factory=list)


class Offers:
    def __init__(self, pool: asyncpg.Pool, roster: Roster, live: LiveIndex) -> None:
        self.pool = pool
        self.roster = roster
        self.live = live

    @asynccontextmanager
    async def claiming(self) -> AsyncIterator[tuple[Conn, Claims]]:
        """A transaction that may claim units: on rollback every claim goes back to what PostgreSQL
        says; after commit the lost ones do, and the won ones get their status version in Redis. A
        process that dies before either leaves the rest to the live repair."""
        claims = Claims()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn, claims
        except BaseException:
            await self._resync([*claims.held, *claims.lost])
            raise
        await self._resync(claims.lost)
        with contextlib.suppress(RedisError, OSError):  # the live repair catches up if not
            await self.roster.sync_live(claims.offered)

    async def offer(
        self, incident_id: int, pick: Ranked, actor: str
    ) -> tuple[Assignment | None, list[Event]]:
        """Claim one unit for one incident; no assignment when another dispatcher got it first."""
        async with self.claiming() as (conn, claims):
            done = await self.offer_in(conn, incident_id, pick, actor, claims)
        return (None, []) if done is None else done

    async def offer_all(
        self, incident_id: int, rec: Recommendation, actor: str
    ) -> tuple[list[Assignment], list[Event]]:
        async with self.claiming() as (conn, claims):
            return await self.offer_all_in(conn, incident_id, rec, actor, claims)

    async def offer_all_in(
        self, conn: Conn, incident_id: int, rec: Recommendation, actor: str, claims: Claims
    ) -> tuple[list[Assignment], list[Event]]:
        """Offer each pick in the caller's transaction; a pick lost to a race is replaced by the next
        alternative the recommendation listed for its requirement."""
        offered: list[Assignment] = []
        events: list[Event] = []
        tried = {p.unit_id for p in rec.picks}
        for pick in rec.picks:
            candidate: Ranked | None = pick
            while candidate is not None:
                done = await self.offer_in(conn, incident_id, candidate, actor, claims)
                if done is not None:
                    offered.append(done[0])
                    events += done[1]
                    break
                candidate = replacement(rec, pick, tried)
                if candidate is not None:
                    tried.add(candidate.unit_id)
        return offered, events

    async def offer_in(
        self, conn: Conn, incident_id: int, pick: Ranked, actor: str, claims: Claims
    ) -> tuple[Assignment, list[Event]] | None:
        """The offer inside the caller's transaction (a savepoint of its own): the claim in Redis
        first, then the records; a refused claim leaves the transaction as it was."""
        if not await self.live.claim(pick.unit_id, pick.kind):
            return None
        claims.held.append(pick.unit_id)
        try:
            async with conn.transaction():
                incident = await incidents.get(conn, incident_id, lock=True)
                if incident.status is IncidentStatus.CLOSED:
                    raise Conflict(f"incident {incident_id} is closed", incident_id=incident_id)
                unit, unit_event = await self.roster.change_status_in(
                    conn, pick.unit_id, UnitStatus.OFFERED, actor, data={"incident_id": incident_id}
                )
                timeout = OFFER_TIMEOUT_S.get(incident.priority, 60)
                row = await conn.fetchrow(
                    """insert into assignments (incident_id, unit_id, status, offer_deadline, travel_s,
                           distance_m, reasons, offered_by, route)
                       values ($1, $2, 'offered', now() + $3::interval, $4, $5, $6, $7, $8) returning *""",
                    incident_id, pick.unit_id, timedelta(seconds=timeout), pick.travel_s,
                    pick.distance_m, [r.value for r in pick.reasons], actor, route_json(pick.route),
                )  # fmt: skip
                assert row is not None
                assignment = Assignment.from_row(row)
                new_status = IncidentStatus.DISPATCHED if incident.status in UNSERVED else incident.status
                await incidents.move(conn, incident_id, new_status, shortfall=None, dispatched=True)
                offer_event = await eventlog.append(
                    conn, "assignment.offered", actor, incident_id=incident_id, unit_id=unit.id,
                    assignment_id=assignment.id,
                    data={**assignment.as_json(), "callsign": unit.callsign, "kind": unit.kind,
                          "incident": {"category": incident.category, "priority": incident.priority,
                                       "lat": incident.lat, "lon": incident.lon,
                                       "address": incident.address},
                          "incident_status": new_status.value},
                )  # fmt: skip
        except (IllegalTransition, asyncpg.UniqueViolationError, NotFound, Conflict) as exc:
            # a lost claim, whatever the cause (another dispatcher was first, the unit changed, the
            # incident was closed meanwhile): the unit goes back to what PostgreSQL says it is
            log.info("claim of unit %s for incident %s refused: %s", pick.unit_id, incident_id, exc)
            claims.held.remove(pick.unit_id)
            claims.lost.append(pick.unit_id)  # resynced after the transaction, on a connection of its own
            return None
        claims.offered.append(unit)
        return assignment, [unit_event, offer_event]

    async def _resync(self, unit_ids: Sequence[int]) -> None:
        """Claims whose records are not in PostgreSQL: each unit goes back to what PostgreSQL says. If
        this fails too (or the process dies first), the live repair job finds the unit."""
        for unit_id in unit_ids:
            try:
                unit = await self.roster.get(unit_id)
            except NotFound:
                continue
            except (asyncpg.PostgresError, asyncpg.InterfaceError, RedisError, OSError):
                log.warning("unit %s stays claimed in Redis until the live repair", unit_id)
                continue
            try:
                await self.roster.sync_live([unit])
            except (RedisError, OSError):
                log.warning("unit %s stays claimed in Redis until the live repair", unit_id)

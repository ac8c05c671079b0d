"""The dispatcher: from a queued alert to offers on the nearest suitable units, and every later step.

The claim on a unit is atomic in Redis (first gate, fast) and guarded by PostgreSQL (a unit status
compare-and-set plus the unique index on active assignments). The loser of a race takes the next
candidate. Handling the same alert twice has no second effect: an alert is handled once, in the
transaction that records what was done with it.

Over 400 lines for now: the offer paths (queue, refill, a dispatcher's choice) share the claim and
its transaction here until the lifecycle and the pending list get their own collaborators.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from alerts import incidents
from alerts.catalogue import Catalogue, PlanItem
from alerts.incidents import UNSERVED, IncidentStatus
from alerts.queue import QueuedAlert
from cases.casebook import CaseBook
from core import eventlog
from core.db import Conn, Queryable
from core.errors import Conflict, NotFound
from core.eventlog import Event
from core.feed import Feed
from core.geo import haversine_m
from core.transitions import IllegalTransition
from dispatch.assignments import ACTIVE, REFUSED, Assignment, AssignmentStatus
from dispatch.recommend import Candidate, Ranked, Reason, Recommendation, Scene, ShortfallCode, recommend
from dispatch.travel import TravelModel
from units.kinds import UnitKind
from units.live import LiveIndex
from units.roster import Roster, Unit
from units.status import UnitStatus

log = logging.getLogger(__name__)

# seconds a unit has to acknowledge an offer, by priority
OFFER_TIMEOUT_S: Mapping[int, int] = {1: 30, 2: 45, 3: 60, 4: 120}
_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Outcome:
    incident_id: int
    offered: tuple[Assignment, ...]
    recommendation: Recommendation | None


@dataclass(slots=True)
class Claims:
    """The units one transaction claimed in Redis: ``held`` (its records are in the transaction),
    ``lost`` (refused by PostgreSQL: back to what it says, after the transaction), and the units whose
    offers it wrote (their status version goes to Redis after commit)."""

    held: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    offered: list[Unit] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self, pool: asyncpg.Pool, roster: Roster, live: LiveIndex, feed: Feed, catalogue: Catalogue,
        kinds: Mapping[str, UnitKind], travel: TravelModel, cases: CaseBook | None = None,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.roster = roster
        self.live = live
        self.feed = feed
        self.catalogue = catalogue
        self.kinds = kinds
        self.travel = travel
        self.cases = cases

    # -- from the queue ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _claiming(self) -> AsyncIterator[tuple[Conn, Claims]]:
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

    async def handle(self, item: QueuedAlert, actor: str = "system:dispatcher") -> Outcome | None:
        """Handle one queued alert in one transaction: the alert is marked handled in the same commit
        as the offers, the waiting state or the grid case it led to. A dispatcher killed half way
        leaves the alert unhandled, and its queue entry (or the reconciler) brings it back. The
        incident is locked first, then the alert (the order a merge takes them in): a second handler
        of the same alert, or of another alert of the same incident, waits for the first to commit."""
        incident_id = await self.pool.fetchval("select incident_id from alerts where id = $1", item.alert_id)
        for _ in range(3):  # again if the alert moved to another incident (a merge) meanwhile
            if incident_id is None:
                return None
            async with self._claiming() as (conn, claims):
                incident = await incidents.get(conn, incident_id, lock=True)
                row = await conn.fetchrow(
                    "select handled_at, incident_id, category from alerts where id = $1 for update",
                    item.alert_id,
                )  # fmt: skip
                if row is None or row["handled_at"] is not None:
                    return None
                if row["incident_id"] != incident_id:
                    incident_id = row["incident_id"]
                    continue
                outcome, events = await self._handle_in(conn, item, incident, row["category"], actor, claims)
                await conn.execute("update alerts set handled_at = now() where id = $1", item.alert_id)
            await self.feed.publish(events)
            return outcome
        return None  # moved again and again: the reconciler brings it back

    async def _handle_in(
        self, conn: Conn, item: QueuedAlert, incident: incidents.Incident, category: str, actor: str,
        claims: Claims,
    ) -> tuple[Outcome | None, list[Event]]:  # fmt: skip
        if incident.status is not IncidentStatus.RECEIVED:
            return None, []  # a related alert joined an incident that is being handled already
        # a non-emergency grid report: a case on the escalation ladder, not a dispatch (when its case
        # exists already, the alert was unlinked from its incident and is dispatched like a call)
        if (
            self.cases is not None
            and self.catalogue.get(category).opens_case
            and (events := await self.cases.open_in(conn, item.alert_id, incident.id, actor))
        ):
            return None, events
        return await self._serve_in(conn, incident, actor, claims)

    async def give_up(self, item: QueuedAlert, reason: str, actor: str = "system:dispatcher") -> None:
        """An alert that cannot be dispatched (its handling keeps failing): handled, and its incident
        waits on the pending list with the reason, which the console shows as an alarm, instead of
        waiting silently in 'received'."""
        shortfall: list[dict[str, Any]] = [{"requirement": None, "kinds": [], "missing": 0,
                      "code": ShortfallCode.CANNOT_DISPATCH.value, "reason": reason[:500]}]  # fmt: skip
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "select handled_at, incident_id, category from alerts where id = $1 for update",
                item.alert_id,
            )  # fmt: skip
            if row is None or row["handled_at"] is not None:
                return
            await conn.execute("update alerts set handled_at = now() where id = $1", item.alert_id)
            known = self.catalogue.categories.get(row["category"])
            status = IncidentStatus.PENDING
            if known is not None and not known.auto_dispatch:
                status = IncidentStatus.AWAITING_CONFIRMATION  # as it would have without the failure
            if not await incidents.move(
                conn, row["incident_id"], status, only_from=UNSERVED, shortfall=shortfall
            ):
                return
            event = await eventlog.append(
                conn, f"incident.{status.value}", actor, incident_id=row["incident_id"],
                alert_id=item.alert_id,
                data={"status": status.value, "shortfall": shortfall, "recommended": []},
            )  # fmt: skip
        log.error("alert %s cannot be dispatched (%s): incident %s waits for a dispatcher",
                  item.alert_id, reason, row["incident_id"])  # fmt: skip
        await self.feed.publish([event])

    async def serve(self, incident_id: int, actor: str) -> Outcome:
        """Recommend for an unserved incident; offer automatically where its category says so."""
        async with self._claiming() as (conn, claims):
            incident = await incidents.get(conn, incident_id, lock=True)
            outcome, events = await self._serve_in(conn, incident, actor, claims)
        await self.feed.publish(events)
        return outcome

    async def _serve_in(
        self, conn: Conn, incident: incidents.Incident, actor: str, claims: Claims
    ) -> tuple[Outcome, list[Event]]:
        category = self.catalogue.get(incident.category)
        rec = await self.recommendation(incident.id, known=incident, db=conn)
        offered: list[Assignment] = []
        events: list[Event] = []
        if category.auto_dispatch:
            offered, events = await self._offer_picks_in(conn, incident.id, rec.picks, actor, claims)
        if not offered:
            waiting = (
                IncidentStatus.PENDING if category.auto_dispatch else IncidentStatus.AWAITING_CONFIRMATION
            )
            events += await self._set_waiting_in(conn, incident.id, waiting, rec, actor)
        return Outcome(incident.id, tuple(offered), rec), events

    async def recommendation(
        self, incident_id: int, exclude: Sequence[int] = (), remaining: bool = False,
        known: incidents.Incident | None = None, db: Queryable | None = None,
    ) -> Recommendation:  # fmt: skip
        """The units to send. ``remaining``: only for what the plan still lacks, given the units already
        on the incident, and never a unit that declined it or let its offer time out. ``known``: the
        incident, already read by the caller; ``db``: the caller's transaction, if it has one."""
        db = db or self.pool
        incident = known or await incidents.get(db, incident_id)
        plan: Sequence[PlanItem] = self.catalogue.get(incident.category).plan
        if remaining:
            plan, busy = await self._still_needed(db, incident_id, plan)
            exclude = [*exclude, *busy]
        candidates = await self.candidates(
            {k for item in plan for k in item.kinds}, incident.lat, incident.lon,
            want=sum(item.count for item in plan) + len(exclude), exclude=exclude,
        )  # fmt: skip
        scene = Scene(incident.lat, incident.lon, incident.priority, incident.zone)
        return recommend(scene, plan, candidates, self.travel)

    async def _still_needed(
        self, db: Queryable, incident_id: int, plan: Sequence[PlanItem]
    ) -> tuple[list[PlanItem], set[int]]:
        """The plan less the units already on the incident; and the units not to ask again."""
        rows = await db.fetch(
            """select a.unit_id, a.status, u.kind from assignments a join units u on u.id = a.unit_id
               where a.incident_id = $1""",
            incident_id,
        )
        counts = [item.count for item in plan]
        for r in rows:
            if AssignmentStatus(r["status"]) in ACTIVE:
                i = next((i for i, item in enumerate(plan) if r["kind"] in item.kinds and counts[i]), None)
                if i is not None:
                    counts[i] -= 1
        skip = {r["unit_id"] for r in rows if AssignmentStatus(r["status"]) in ACTIVE | REFUSED}
        return [replace(item, count=n) for item, n in zip(plan, counts, strict=True) if n > 0], skip

    async def refill(self, incident_id: int, actor: str) -> list[Assignment]:
        """Offer what the plan still lacks (after a decline, a timeout, or a unit freed for it)."""
        rec = await self.recommendation(incident_id, remaining=True)
        return await self.offer_picks(incident_id, rec.picks, actor) if rec.picks else []

    async def candidates(
        self, kinds: set[str], lat: float, lon: float, want: int, exclude: Sequence[int] = ()
    ) -> list[Candidate]:
        nearby = await self.live.search(sorted(kinds), lat, lon, want=max(want, 1))
        ids = [n.unit_id for n in nearby if n.unit_id not in exclude]
        live = await self.live.get(ids)
        now = time.time()
        found = []
        for unit_id in ids:
            u = live.get(unit_id)
            if u is None or u.lat is None or u.lon is None:
                continue
            kind = self.kinds.get(u.kind)
            found.append(Candidate(
                unit_id=unit_id, kind=u.kind, tier=u.tier, lat=u.lat, lon=u.lon,
                fix_age_s=max(0.0, now - (u.fix_at or 0.0)),
                stale_after_s=float(kind.stale_after_s if kind else 120),
                available=True, zone=u.zone, capabilities=u.capabilities,
            ))  # fmt: skip
        return found

    async def offer_picks(self, incident_id: int, picks: Sequence[Ranked], actor: str) -> list[Assignment]:
        """Offer each pick, in one transaction; a unit lost to a race is replaced by the next best."""
        async with self._claiming() as (conn, claims):
            offered, events = await self._offer_picks_in(conn, incident_id, picks, actor, claims)
        await self.feed.publish(events)
        return offered

    async def _offer_picks_in(
        self, conn: Conn, incident_id: int, picks: Sequence[Ranked], actor: str, claims: Claims
    ) -> tuple[list[Assignment], list[Event]]:
        offered: list[Assignment] = []
        events: list[Event] = []
        tried: set[int] = set()
        wanted = list(picks)
        for _ in range(_CLAIM_ATTEMPTS):
            lost = 0
            for pick in wanted:
                tried.add(pick.unit_id)
                done = await self._offer_in(conn, incident_id, pick, actor, claims)
                if done is None:
                    lost += 1
                else:
                    offered.append(done[0])
                    events += done[1]
            if not lost:
                break
            # what is still missing, now that the won claims are on the incident (in this transaction)
            rec = await self.recommendation(incident_id, sorted(tried), remaining=True, db=conn)
            wanted = list(rec.picks)
            if not wanted:
                break
        return offered, events

    async def offer(self, incident_id: int, pick: Ranked, actor: str) -> Assignment | None:
        """Claim one unit for one incident; None when another dispatcher got it first."""
        async with self._claiming() as (conn, claims):
            done = await self._offer_in(conn, incident_id, pick, actor, claims)
        if done is None:
            return None
        await self.feed.publish(done[1])
        return done[0]

    async def _offer_in(
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
                           distance_m, reasons, offered_by)
                       values ($1, $2, 'offered', now() + $3::interval, $4, $5, $6, $7) returning *""",
                    incident_id, pick.unit_id, timedelta(seconds=timeout), pick.travel_s,
                    pick.distance_m, [r.value for r in pick.reasons], actor,
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
                await self._resync_unit(unit_id)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, RedisError, OSError):
                log.warning("unit %s stays claimed in Redis until the live repair", unit_id)

    async def send(
        self, incident_id: int, unit_ids: Sequence[int], actor: str
    ) -> tuple[list[Assignment], list[dict[str, Any]]]:
        """A dispatcher's choice: send these units (recommended or not); each must be available."""
        incident = await incidents.get(self.pool, incident_id)
        if incident.status is IncidentStatus.CLOSED:
            raise Conflict(f"incident {incident_id} is closed", incident_id=incident_id)
        live = await self.live.get(list(unit_ids))
        offered: list[Assignment] = []
        refused: list[dict[str, Any]] = []
        for unit_id in unit_ids:
            u = live.get(unit_id)
            if u is None:
                refused.append({"unit_id": unit_id, "reason": "unknown unit"})
                continue
            travel_s = distance_m = 0.0
            if u.lat is not None and u.lon is not None:
                travel_s = self.travel.seconds(u.kind, u.lat, u.lon, incident.lat, incident.lon)
                distance_m = haversine_m(u.lat, u.lon, incident.lat, incident.lon)
            pick = Ranked(unit_id, u.kind, u.tier, travel_s, distance_m, (Reason.DISPATCHER_CHOICE,), 0)
            assignment = await self.offer(incident_id, pick, actor)
            if assignment is None:
                refused.append({"unit_id": unit_id, "reason": f"not available (status {u.status})"})
            else:
                offered.append(assignment)
        return offered, refused

    async def _resync_unit(self, unit_id: int) -> None:
        try:
            unit = await self.roster.get(unit_id)
        except NotFound:
            return
        await self.roster.sync_live([unit])

    async def set_waiting(
        self, incident_id: int, status: IncidentStatus, rec: Recommendation, actor: str
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            events = await self._set_waiting_in(conn, incident_id, status, rec, actor)
        await self.feed.publish(events)

    async def _set_waiting_in(
        self, conn: Conn, incident_id: int, status: IncidentStatus, rec: Recommendation, actor: str
    ) -> list[Event]:
        """The incident waits (for a unit, or for a dispatcher), with its shortfall; no event when it
        no longer needed a unit (served or closed meanwhile)."""
        shortfall = [
            {"requirement": s.requirement, "kinds": list(s.kinds), "missing": s.missing, "code": s.code.value}
            for s in rec.shortfalls
        ]
        if not await incidents.move(conn, incident_id, status, only_from=UNSERVED, shortfall=shortfall):
            return []
        return [await eventlog.append(
            conn, f"incident.{status.value}", actor, incident_id=incident_id,
            data={"status": status.value, "shortfall": shortfall,
                  "recommended": [p.unit_id for p in rec.picks]},
        )]  # fmt: skip

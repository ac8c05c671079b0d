"""The dispatcher: from a queued alert to offers on the nearest suitable units.

Each method reads, decides (``dispatch/recommend.py``, ``dispatch/decisions.py``: pure) and writes in
one transaction, and returns the events of what it wrote; the edge that called it (the worker, a
route) publishes them. Handling the same alert twice has no second effect: an alert is handled once,
in the transaction that records what was done with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from alerts import incidents
from alerts.catalogue import Catalogue
from alerts.incidents import UNSERVED, IncidentStatus
from alerts.queue import QueuedAlert
from cases.casebook import CaseBook
from core import eventlog, metrics, tracing
from core.db import Conn, Queryable
from core.errors import Conflict
from core.eventlog import Event
from dispatch.assignments import Assignment, on_incident
from dispatch.candidates import Candidates
from dispatch.decisions import (
    Handling,
    chosen_by_dispatcher,
    handling,
    plan_lacks,
    shortfall_json,
    waiting_status,
)
from dispatch.offers import Claims, Offers
from dispatch.own_service import IncidentPlan, plan_for
from dispatch.recommend import Recommendation, Scene, ShortfallCode, recommend
from dispatch.routes import with_routes
from dispatch.travel import TravelModel
from units.kinds import UnitKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    incident_id: int
    offered: tuple[Assignment, ...]
    recommendation: Recommendation | None


class Dispatcher:
    def __init__(
        self, pool: asyncpg.Pool, offers: Offers, candidates: Candidates, catalogue: Catalogue,
        travel: TravelModel, cases: CaseBook | None = None, kinds: Mapping[str, UnitKind] | None = None,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.kinds: Mapping[str, UnitKind] = kinds or {}
        self.offers = offers
        self.candidates = candidates
        self.catalogue = catalogue
        self.travel = travel
        self.cases = cases

    async def handle(
        self, item: QueuedAlert, actor: str = "system:dispatcher"
    ) -> tuple[Outcome | None, list[Event]]:
        """Handle one queued alert in one transaction: the alert is marked handled in the same commit
        as the offers, the waiting state or the grid case it led to. A dispatcher killed half way
        leaves the alert unhandled, and its queue entry (or the reconciler) brings it back. The
        incident is locked first, then the alert (the order a merge takes them in): a second handler
        of the same alert, or of another alert of the same incident, waits for the first to commit."""
        incident_id = await self.pool.fetchval("select incident_id from alerts where id = $1", item.alert_id)
        for _ in range(3):  # again if the alert moved to another incident (a merge) meanwhile
            if incident_id is None:
                return None, []
            async with self.offers.claiming() as (conn, claims):
                incident = await incidents.get(conn, incident_id, lock=True)
                row = await conn.fetchrow(
                    "select handled_at, incident_id, category from alerts where id = $1 for update",
                    item.alert_id,
                )  # fmt: skip
                if row is None or row["handled_at"] is not None:
                    return None, []
                if row["incident_id"] != incident_id:
                    incident_id = row["incident_id"]
                    continue
                done = await self._handle_in(conn, item, incident, row["category"], actor, claims)
                # seconds since acceptance, by the database's clock (the one received_at was set by)
                waited = await conn.fetchval(
                    """update alerts set handled_at = now() where id = $1
                       returning extract(epoch from clock_timestamp() - received_at)::float8""",
                    item.alert_id,
                )  # fmt: skip
            if done[0] is not None and done[0].offered:
                metrics.ALERT_TO_OFFER.labels(priority=str(incident.priority)).observe(waited)
            return done
        return None, []  # moved again and again: the reconciler brings it back

    async def _handle_in(
        self, conn: Conn, item: QueuedAlert, incident: incidents.Incident, category: str, actor: str,
        claims: Claims,
    ) -> tuple[Outcome | None, list[Event]]:  # fmt: skip
        what = handling(incident.status, self.cases is not None and self.catalogue.get(category).opens_case)
        if what is Handling.NOTHING:
            return None, []
        if what is Handling.CASE:
            assert self.cases is not None
            if events := await self.cases.open_in(conn, item.alert_id, incident.id, actor):
                return None, events
        return await self._serve_in(conn, incident, actor, claims)

    async def give_up(self, item: QueuedAlert, reason: str, actor: str = "system:dispatcher") -> list[Event]:
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
                return []
            await conn.execute("update alerts set handled_at = now() where id = $1", item.alert_id)
            known = self.catalogue.categories.get(row["category"])
            # as it would have waited without the failure
            status = waiting_status(known is None or known.auto_dispatch)
            if not await incidents.move(
                conn, row["incident_id"], status, only_from=UNSERVED, shortfall=shortfall
            ):
                return []
            event = await eventlog.append(
                conn, f"incident.{status.value}", actor, incident_id=row["incident_id"],
                alert_id=item.alert_id,
                data={"status": status.value, "shortfall": shortfall, "recommended": []},
            )  # fmt: skip
        log.error("alert %s cannot be dispatched (%s): incident %s waits for a dispatcher",
                  item.alert_id, reason, row["incident_id"])  # fmt: skip
        return [event]

    async def _serve_in(
        self, conn: Conn, incident: incidents.Incident, actor: str, claims: Claims
    ) -> tuple[Outcome, list[Event]]:
        """Recommend for an unserved incident; offer automatically where its category says so."""
        category = self.catalogue.get(incident.category)
        with tracing.span("dispatch.recommend", category=category.code):
            rec = await self.recommendation(incident.id, known=incident, db=conn)
            tracing.add(picks=len(rec.picks))
        offered: list[Assignment] = []
        events: list[Event] = []
        if category.auto_dispatch:
            with tracing.span("dispatch.offer"):
                offered, events = await self.offers.offer_all_in(conn, incident.id, rec, actor, claims)
                tracing.add(offered=len(offered))
        if not offered:
            waiting = waiting_status(category.auto_dispatch)
            events += await self._set_waiting_in(conn, incident.id, waiting, rec, actor)
        return Outcome(incident.id, tuple(offered), rec), events

    async def recommendation(
        self, incident_id: int, remaining: bool = False, known: incidents.Incident | None = None,
        db: Queryable | None = None,
    ) -> Recommendation:  # fmt: skip
        """The units to send. ``remaining``: only for what the plan still lacks, given the units already
        on the incident, and never a unit that declined it or let its offer lapse. ``known``: the
        incident, already read by the caller; ``db``: the caller's transaction, if it has one."""
        db = db or self.pool
        incident = known or await incidents.get(db, incident_id)
        planned = await self.plan_of(db, incident)
        plan, skip = planned.items, planned.exclude
        if remaining:
            lacking = plan_lacks(plan, await on_incident(db, incident_id))
            plan, skip = lacking.plan, skip | lacking.skip
        candidates = await self.candidates.near(
            {k for item in plan for k in item.kinds}, incident.lat, incident.lon,
            want=max(sum(item.count for item in plan), self.travel.candidate_pool) + len(skip),
            exclude=skip,
        )  # fmt: skip
        scene = Scene(incident.lat, incident.lon, incident.priority, incident.zone)
        return with_routes(recommend(scene, plan, candidates, self.travel), candidates, scene, self.travel)

    async def plan_of(self, db: Queryable, incident: incidents.Incident) -> IncidentPlan:
        """The incident's plan, and who must never be sent to it: for a unit's own emergency, the
        units of its agency and never the units whose panic it is."""
        category = self.catalogue.get(incident.category)
        if not category.own_service:
            return IncidentPlan(category.plan)
        rows = await db.fetch(
            """select p.unit_id, u.kind from panics p join units u on u.id = p.unit_id
               where p.incident_id = $1""",
            incident.id,
        )  # fmt: skip
        return plan_for(category, [(r["unit_id"], r["kind"]) for r in rows], self.kinds)

    async def refill(self, incident_id: int, actor: str) -> tuple[list[Assignment], list[Event]]:
        """Offer what the plan still lacks (after a decline, a timeout, or a unit freed for it)."""
        rec = await self.recommendation(incident_id, remaining=True)
        return await self.offers.offer_all(incident_id, rec, actor) if rec.picks else ([], [])

    async def send(
        self, incident_id: int, unit_ids: Sequence[int], actor: str
    ) -> tuple[list[Assignment], list[dict[str, Any]], list[Event]]:
        """A dispatcher's choice: send these units (recommended or not); each must be available."""
        incident = await incidents.get(self.pool, incident_id)
        if incident.status is IncidentStatus.CLOSED:
            raise Conflict(f"incident {incident_id} is closed", incident_id=incident_id)
        scene = Scene(incident.lat, incident.lon, incident.priority, incident.zone)
        live = await self.candidates.units(unit_ids)
        never = (await self.plan_of(self.pool, incident)).exclude
        offered: list[Assignment] = []
        refused: list[dict[str, Any]] = []
        events: list[Event] = []
        for unit_id in unit_ids:
            u = live.get(unit_id)
            if u is None:
                refused.append({"unit_id": unit_id, "reason": "unknown unit"})
                continue
            if unit_id in never:
                refused.append({"unit_id": unit_id, "reason": "the unit raised this panic itself"})
                continue
            pick = chosen_by_dispatcher(u, scene, self.travel)
            assignment, written = await self.offers.offer(incident_id, pick, actor)
            events += written
            if assignment is None:
                refused.append({"unit_id": unit_id, "reason": f"not available (status {u.status})"})
            else:
                offered.append(assignment)
        return offered, refused, events

    async def set_waiting(
        self, incident_id: int, status: IncidentStatus, rec: Recommendation, actor: str
    ) -> list[Event]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._set_waiting_in(conn, incident_id, status, rec, actor)

    async def _set_waiting_in(
        self, conn: Conn, incident_id: int, status: IncidentStatus, rec: Recommendation, actor: str
    ) -> list[Event]:
        """The incident waits (for a unit, or for a dispatcher), with its shortfall; no event when it
        no longer needed a unit (served or closed meanwhile)."""
        shortfall = shortfall_json(rec)
        if not await incidents.move(conn, incident_id, status, only_from=UNSERVED, shortfall=shortfall):
            return []
        return [await eventlog.append(
            conn, f"incident.{status.value}", actor, incident_id=incident_id,
            data={"status": status.value, "shortfall": shortfall,
                  "recommended": [p.unit_id for p in rec.picks]},
        )]  # fmt: skip

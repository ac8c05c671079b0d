"""The pending list: incidents nobody was free to serve, waiting with their shortfall.

Two ways off it. A unit coming free is offered to the most urgent, then oldest, waiting incident it can
serve (a dispatcher expects exactly that order). A periodic sweep looks at all of them together and, when
several wait, assigns units jointly (least total priority-weighted travel time) instead of first come
first served; a new priority-1 incident never waits for a sweep, the dispatcher serves it on arrival.
The choices are pure (``dispatch/decisions.py``); here they are read and written. Every method returns
the events of what it wrote, for its caller to publish.
"""

from __future__ import annotations

import logging

import asyncpg

from alerts import incidents
from alerts.catalogue import Catalogue
from alerts.incidents import Incident, IncidentStatus
from core.eventlog import Event
from dispatch.assignments import refusals
from dispatch.candidates import Candidates
from dispatch.decisions import Waiting, freed_unit_takes, joint_offers
from dispatch.dispatcher import Dispatcher
from dispatch.offers import Offers
from dispatch.recommend import Candidate, Scene, ShortfallCode
from dispatch.travel import TravelModel

log = logging.getLogger(__name__)


def _cannot_dispatch(incident: Incident) -> bool:
    shortfall = incident.shortfall if isinstance(incident.shortfall, list) else []
    return any(isinstance(s, dict) and s.get("code") == ShortfallCode.CANNOT_DISPATCH for s in shortfall)


class PendingList:
    def __init__(
        self, pool: asyncpg.Pool, dispatcher: Dispatcher, offers: Offers, candidates: Candidates,
        catalogue: Catalogue, travel: TravelModel, batch: int = 100,
    ) -> None:  # fmt: skip
        self.pool = pool
        self.dispatcher = dispatcher
        self.offers = offers
        self.candidates = candidates
        self.catalogue = catalogue
        self.travel = travel
        self.batch = batch

    async def waiting(self) -> list[Incident]:
        """Incidents waiting for a unit, most urgent and oldest first."""
        rows = await self.pool.fetch(
            """select * from incidents where status = $1 and closed_at is null
               order by priority, received_at limit $2""",
            IncidentStatus.PENDING.value, self.batch,
        )  # fmt: skip
        # an incident the dispatcher could not handle waits for a dispatcher's hand, not for a unit
        return [i for i in map(incidents.Incident.from_row, rows) if not _cannot_dispatch(i)]

    async def _waiting(self, waiting: list[Incident]) -> tuple[list[Waiting], set[tuple[int, int]]]:
        """Each incident's plan, and the (incident, unit) pairs that must never be offered: the units
        whose own panic an incident is. No plan for a category the catalogue no longer has (that
        incident waits for a dispatcher; it must not stop the others being served)."""
        plans: list[Waiting] = []
        never: set[tuple[int, int]] = set()
        for incident in waiting:
            scene = Scene(incident.lat, incident.lon, incident.priority, incident.zone)
            try:
                planned = await self.dispatcher.plan_of(self.pool, incident)
            except KeyError:
                log.warning("incident %s has category %r, unknown to the catalogue", incident.id,
                            incident.category)  # fmt: skip
                plans.append(Waiting(incident.id, scene, ()))
                continue
            plans.append(Waiting(incident.id, scene, planned.items))
            never |= {(incident.id, unit_id) for unit_id in planned.exclude}
        return plans, never

    async def unit_freed(self, unit_id: int, actor: str) -> tuple[int | None, list[Event]]:
        """Offer a unit that just became available to the first waiting incident it can serve; the
        incident it was offered to, if any."""
        waiting = await self.waiting()
        if not waiting:
            return None, []
        me = await self.candidates.one(unit_id)
        if me is None:
            return None, []
        plans, never = await self._waiting(waiting)
        refused = await refusals(self.pool, [i.id for i in waiting]) | never
        taken = freed_unit_takes(me, plans, refused, self.travel)
        if taken is None:
            return None, []
        incident_id, pick = taken
        assignment, events = await self.offers.offer(incident_id, pick, actor)
        if assignment is None:
            return None, events  # someone else took the unit meanwhile
        _, more = await self.dispatcher.refill(incident_id, actor)  # the rest of its plan, if needed
        return incident_id, events + more

    async def sweep(self, actor: str = "system:pending") -> tuple[int, list[Event]]:
        """Serve waiting incidents together; the number that got a unit."""
        waiting = await self.waiting()
        if not waiting:
            return 0, []
        plans, never = await self._waiting(waiting)
        if len(waiting) == 1:
            if not plans[0].plan:
                return 0, []
            offered, written = await self.dispatcher.refill(waiting[0].id, actor)
            return (1 if offered else 0), written
        units: dict[int, Candidate] = {}
        for w in plans:
            if w.plan:
                kinds = {k for item in w.plan for k in item.kinds}
                for c in await self.candidates.near(kinds, w.scene.lat, w.scene.lon, want=len(waiting)):
                    units[c.unit_id] = c
        refused = await refusals(self.pool, [i.id for i in waiting]) | never
        served = 0
        events: list[Event] = []
        for incident_id, pick in joint_offers(plans, list(units.values()), refused, self.travel):
            assignment, written = await self.offers.offer(incident_id, pick, actor)
            events += written
            if assignment is None:
                continue
            served += 1
            _, more = await self.dispatcher.refill(incident_id, actor)
            events += more
        if served:
            log.info("pending sweep: %d of %d waiting incidents got a unit", served, len(waiting))
        return served, events

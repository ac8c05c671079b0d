"""The pending list: incidents nobody was free to serve, waiting with their shortfall.

Two ways off it. A unit coming free is offered to the most urgent, then oldest, waiting incident it can
serve (a dispatcher expects exactly that order). A periodic sweep looks at all of them together and, when
several wait, assigns units jointly (least total priority-weighted travel time) instead of first come
first served; a new priority-1 incident never waits for a sweep, the dispatcher serves it on arrival.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from alerts import incidents
from alerts.catalogue import PlanItem
from alerts.incidents import Incident, IncidentStatus
from core.geo import haversine_m
from dispatch.assignments import REFUSED
from dispatch.joint import assign_jointly
from dispatch.recommend import Candidate, Ranked, Reason, Scene, ShortfallCode, recommend

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


def _cannot_dispatch(incident: Incident) -> bool:
    shortfall = incident.shortfall if isinstance(incident.shortfall, list) else []
    return any(isinstance(s, dict) and s.get("code") == ShortfallCode.CANNOT_DISPATCH for s in shortfall)


class PendingList:
    def __init__(self, dispatcher: Dispatcher, batch: int = 100) -> None:
        self.d = dispatcher
        self.batch = batch

    async def waiting(self) -> list[Incident]:
        """Incidents waiting for a unit, most urgent and oldest first."""
        rows = await self.d.pool.fetch(
            """select * from incidents where status = $1 and closed_at is null
               order by priority, received_at limit $2""",
            IncidentStatus.PENDING.value, self.batch,
        )  # fmt: skip
        # an incident the dispatcher could not handle waits for a dispatcher's hand, not for a unit
        return [i for i in map(incidents.Incident.from_row, rows) if not _cannot_dispatch(i)]

    async def refusals(self, incident_ids: list[int]) -> set[tuple[int, int]]:
        """(incident, unit) pairs where the unit declined or let its offer lapse: not asked again."""
        rows = await self.d.pool.fetch(
            """select incident_id, unit_id from assignments
               where incident_id = any($1::bigint[]) and status = any($2::text[])""",
            incident_ids, [s.value for s in REFUSED],
        )  # fmt: skip
        return {(r["incident_id"], r["unit_id"]) for r in rows}

    def _plan(self, incident: Incident) -> tuple[PlanItem, ...]:
        """The incident's response plan; none for a category the catalogue no longer has (that
        incident waits for a dispatcher; it must not stop the others being served)."""
        try:
            return tuple(self.d.catalogue.get(incident.category).plan)
        except KeyError:
            log.warning("incident %s has category %r, unknown to the catalogue", incident.id,
                        incident.category)  # fmt: skip
            return ()

    async def unit_freed(self, unit_id: int, actor: str) -> int | None:
        """Offer a unit that just became available to the first waiting incident it can serve; the
        incident it was offered to, if any."""
        waiting = await self.waiting()
        if not waiting:
            return None
        live = (await self.d.live.get([unit_id])).get(unit_id)
        if live is None or live.lat is None or live.lon is None:
            return None
        kind = self.d.kinds.get(live.kind)
        me = Candidate(
            unit_id=unit_id, kind=live.kind, tier=live.tier, lat=live.lat, lon=live.lon,
            fix_age_s=max(0.0, time.time() - (live.fix_at or 0.0)),
            stale_after_s=float(kind.stale_after_s if kind else 120), zone=live.zone,
            capabilities=live.capabilities,
        )  # fmt: skip
        refused = await self.refusals([i.id for i in waiting])
        for incident in waiting:
            if (incident.id, unit_id) in refused:
                continue
            scene = Scene(incident.lat, incident.lon, incident.priority, incident.zone)
            picks = recommend(scene, self._plan(incident), [me], self.d.travel).picks
            if not picks:
                continue
            if await self.d.offer(incident.id, picks[0], actor) is None:
                return None  # someone else took the unit meanwhile
            await self.d.refill(incident.id, actor)  # the rest of its plan, if more is needed
            return incident.id
        return None

    async def sweep(self, actor: str = "system:pending") -> int:
        """Serve waiting incidents together; the number that got a unit."""
        waiting = await self.waiting()
        if not waiting:
            return 0
        if len(waiting) == 1:
            return 1 if self._plan(waiting[0]) and await self.d.refill(waiting[0].id, actor) else 0
        scenes: list[tuple[int, Scene]] = []
        requirements = {}
        units: dict[int, Candidate] = {}
        for incident in waiting:
            plan = self._plan(incident)
            if not plan:
                continue
            scenes.append((incident.id, Scene(incident.lat, incident.lon, incident.priority, incident.zone)))
            requirements[incident.id] = plan[0]
            kinds = {k for item in plan for k in item.kinds}
            for c in await self.d.candidates(kinds, incident.lat, incident.lon, want=len(waiting)):
                units[c.unit_id] = c
        refused = await self.refusals([i.id for i in waiting])
        chosen = assign_jointly(
            scenes, list(units.values()), self.d.travel, requirements=requirements, forbidden=refused
        )
        served = 0
        by_urgency = {i.id: n for n, i in enumerate(waiting)}
        scene_of = dict(scenes)
        for incident_id, unit_id in sorted(chosen.items(), key=lambda kv: by_urgency[kv[0]]):
            u, scene = units[unit_id], scene_of[incident_id]
            pick = Ranked(
                unit_id, u.kind, u.tier, self.d.travel.seconds(u.kind, u.lat, u.lon, scene.lat, scene.lon),
                haversine_m(u.lat, u.lon, scene.lat, scene.lon), (Reason.JOINT_ASSIGNMENT,), 0,
            )  # fmt: skip
            if await self.d.offer(incident_id, pick, actor) is None:
                continue
            served += 1
            await self.d.refill(incident_id, actor)
        if served:
            log.info("pending sweep: %d of %d waiting incidents got a unit", served, len(waiting))
        return served

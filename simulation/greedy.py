"""The baseline policy: straight-line greedy nearest, one incident at a time, first come first served.

What open-source CAD systems do: each incident, in the order it came in, gets the nearest free units of
the kinds its plan names (straight-line distance, whatever the kind's speed, no look at the other
incidents); an incident nobody can serve waits in a queue and is served, oldest first, as units come
free. A desk client does it through the public API: it watches ``/ws/ops`` for the units' statuses and
positions and sends units with ``POST /api/v1/incidents/{id}/assignments`` (the center's own dispatcher
is not running in this run).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alerts.catalogue import Catalogue, PlanItem
from core.geo import haversine_m
from core.roles import Role
from simulation.api import FAILED, Api
from simulation.clock import SimClock
from simulation.metrics import RunLog
from simulation.watch import DISPATCHABLE, OpsWatch, SeenUnit

log = logging.getLogger(__name__)


def greedy_picks(lat: float, lon: float, plan: Sequence[PlanItem], free: Sequence[SeenUnit]) -> list[int]:
    """For each place of the plan in order, the nearest free unit by straight line of a kind and tier
    it accepts."""
    picks: list[int] = []
    for item in plan:
        suitable = [u for u in free if u.kind in item.kinds and u.tier in item.tiers and u.id not in picks
                    and u.lat is not None and u.lon is not None]  # fmt: skip
        suitable.sort(key=lambda u: (haversine_m(lat, lon, u.lat or 0.0, u.lon or 0.0), u.id))
        picks += [u.id for u in suitable[: item.count]]
    return picks


@dataclass
class Waiting:
    incident_id: int
    lat: float
    lon: float
    plan: tuple[PlanItem, ...]


class GreedyDesk:
    def __init__(self, api: Api, watch: OpsWatch, catalogue: Catalogue, clock: SimClock, log: RunLog) -> None:
        self.api = api
        self.watch = watch
        self.catalogue = catalogue
        self.clock = clock
        self.log = log
        self.queue: list[Waiting] = []
        self._sent: set[int] = set()  # units sent whose offer the feed has not shown yet
        self._kick = asyncio.Event()

    def incident(self, incident_id: int, lat: float, lon: float, category: str) -> None:
        """A new incident from the call takers (the center's answer to the call)."""
        plan = self.catalogue.get(category).plan
        if plan:
            self.queue.append(Waiting(incident_id, lat, lon, plan))
            self._kick.set()

    def on_frame(self, m: dict[str, Any]) -> None:
        """A listener of the ops feed: a unit that changed status may be free, or no longer ours to wait
        for."""
        if m.get("kind") == "unit.status_changed":
            unit_id = m.get("unit_id")
            if isinstance(unit_id, int):
                self._sent.discard(unit_id)
            if (m.get("data") or {}).get("to") in DISPATCHABLE:
                self._kick.set()

    async def run(self) -> None:
        await self.watch.ready.wait()
        while True:
            await self._kick.wait()
            self._kick.clear()
            await self._serve()

    async def _serve(self) -> None:
        """Oldest first: each waiting incident gets the nearest free units, or keeps waiting."""
        i = 0
        while i < len(self.queue):
            w = self.queue[i]
            free = [u for u in self.watch.free() if u.id not in self._sent]
            picks = greedy_picks(w.lat, w.lon, w.plan, free)
            if picks and await self._send(w, picks):
                self.queue.pop(i)
                continue
            self.log.pending(w.incident_id, self.clock.now())
            i += 1

    async def _send(self, w: Waiting, picks: list[int]) -> bool:
        try:
            answer = await self.api.request("POST", f"/api/v1/incidents/{w.incident_id}/assignments",
                                            Role.DISPATCHER, {"unit_ids": picks}, ok=(201, 409))  # fmt: skip
        except FAILED as exc:
            log.warning("greedy desk: incident %s: %s", w.incident_id, exc)
            return False
        offered = [a["unit_id"] for a in answer.get("offered", [])]
        refused = [r["unit_id"] for r in answer.get("refused", [])]
        self._sent.update(offered)
        for unit_id in refused:  # the feed was behind: not free after all
            seen = self.watch.units.get(unit_id)
            if seen is not None and seen.status in DISPATCHABLE:
                seen.status = "offered"
        return bool(offered)

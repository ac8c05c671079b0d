"""A fleet of simulated units: registered through the API (once: callsigns are their identity), then
each one run as its own client on its own socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from core.roles import Role
from simulation.api import Api, ApiError
from simulation.crew import Crew
from simulation.roster import UnitSpec
from simulation.unit import SimUnit, World

log = logging.getLogger(__name__)
REGISTER_AT_ONCE = 8
CONNECT_EVERY_S = 0.01  # units come on line one after another, not in one burst


async def register(api: Api, specs: Sequence[UnitSpec]) -> dict[str, dict[str, Any]]:
    """Callsign -> the unit as the center knows it; units not on the roster yet are registered."""
    known: dict[str, dict[str, Any]] = {u["callsign"]: u for u in await api.every("/api/v1/units")}
    gate = asyncio.Semaphore(REGISTER_AT_ONCE)

    async def add(spec: UnitSpec) -> None:
        async with gate:
            try:
                known[spec.callsign] = await api.request("POST", "/api/v1/units", Role.ADMIN, spec.body())
            except ApiError as exc:  # a callsign of a retired unit stays taken: that unit sits out
                if exc.status != 409:
                    raise
                log.info("unit %s not registered: %s", spec.callsign, exc)

    await asyncio.gather(*(add(s) for s in specs if s.callsign not in known))
    return {s.callsign: known[s.callsign] for s in specs if s.callsign in known}


class Fleet:
    def __init__(self, world: World, specs: Sequence[UnitSpec], known: dict[str, dict[str, Any]],
                 seed: int = 0) -> None:  # fmt: skip
        self.units: list[SimUnit] = []
        for n, spec in enumerate(specs):
            row = known.get(spec.callsign)
            if row is None:
                continue
            # a unit starts where the center last saw it (no jump after a restart), else at its base
            start = (row["lat"], row["lon"]) if row.get("lat") is not None else spec.base
            self.units.append(SimUnit(spec, int(row["id"]), world, start, seed * 100_003 + n))

    def start(self, crew: Crew) -> None:
        for n, unit in enumerate(self.units):
            crew.start(f"unit-{unit.spec.callsign}", unit.run, delay_s=n * CONNECT_EVERY_S)

    def by_id(self) -> dict[int, SimUnit]:
        return {u.id: u for u in self.units}

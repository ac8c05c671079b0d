"""Travel-time estimates from a unit to a scene, behind a protocol so a road router can replace them.

The recommendation asks once per unit kind for all its candidates (``many_to_one``), which is what a
road router answers fastest; ``seconds`` is the one-pair form for a single unit sent by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.geo import haversine_m
from roads.router import Route
from units.kinds import UnitKind

Point = tuple[float, float]  # (lat, lon), WGS-84 degrees


@dataclass(frozen=True, slots=True)
class Estimate:
    """Seconds to the scene; ``by_road`` when a road router answered; ``fallback`` names why the
    straight line stood in where roads were wanted (a reason code shown beside the unit)."""

    seconds: float
    by_road: bool = False
    fallback: str | None = None


class TravelModel(Protocol):
    """Estimated seconds for a unit of ``kind`` to drive from one point to another."""

    # how many units of the needed kinds a recommendation should weigh at least: more than the plan
    # needs when the model can tell a near unit from a quick one (roads), the plan's count otherwise
    candidate_pool: int

    def seconds(self, kind: str, from_lat: float, from_lon: float, to_lat: float, to_lon: float) -> float: ...

    def many_to_one(
        self, kind: str, origins: Sequence[Point], to_lat: float, to_lon: float
    ) -> list[Estimate]:
        """One estimate per origin, in order, for units of ``kind`` going to one scene."""
        ...

    def route(self, kind: str, origin: Point, target: Point) -> Route | None:
        """The way a unit of ``kind`` would go, where the model knows roads."""
        ...


class StraightLineTravel:
    """Straight-line distance stretched by a circuity factor, at the typical urban speed of the kind.

    Roads are rarely straight: urban circuity is typically 1.2-1.4, hence the 1.3 default. Unknown kinds
    travel at ``default_speed_kmh`` rather than failing, so a new kind in the roster never blocks dispatch.
    """

    __slots__ = ("_circuity", "_default_mps", "_mps")
    candidate_pool = 1

    def __init__(
        self, speeds_kmh: Mapping[str, float], circuity: float = 1.3, default_speed_kmh: float = 30.0
    ) -> None:
        if not (math.isfinite(circuity) and circuity >= 1.0):
            raise ValueError(f"circuity must be a finite number >= 1, got {circuity!r}")
        for kind, speed in [*speeds_kmh.items(), ("<default>", default_speed_kmh)]:
            if not (math.isfinite(speed) and speed > 0):
                raise ValueError(f"speed for {kind!r} must be a finite positive km/h, got {speed!r}")
        self._circuity = circuity
        self._mps = {kind: speed / 3.6 for kind, speed in speeds_kmh.items()}
        self._default_mps = default_speed_kmh / 3.6

    @classmethod
    def from_kinds(
        cls, kinds: Iterable[UnitKind], circuity: float = 1.3, default_speed_kmh: float = 30.0
    ) -> StraightLineTravel:
        """Build the model from the unit-kind catalogue's typical speeds."""
        return cls({k.code: k.speed_kmh for k in kinds}, circuity, default_speed_kmh)

    def seconds(self, kind: str, from_lat: float, from_lon: float, to_lat: float, to_lon: float) -> float:
        distance = haversine_m(from_lat, from_lon, to_lat, to_lon) * self._circuity
        return distance / self._mps.get(kind, self._default_mps)

    def many_to_one(
        self, kind: str, origins: Sequence[Point], to_lat: float, to_lon: float
    ) -> list[Estimate]:
        return [Estimate(self.seconds(kind, lat, lon, to_lat, to_lon)) for lat, lon in origins]

    def route(self, kind: str, origin: Point, target: Point) -> Route | None:
        return None

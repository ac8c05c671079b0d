"""Travel time by road for the recommendation: a ``TravelModel`` over a ``roads.RoadRouter``.

Each unit kind travels on a road profile (``road_profile`` in ``units/kinds.toml``); walkers and
cyclists share the foot network at their kind's own speed. Where the router has no answer for a unit
(its fix or the scene too far from any road, no way between them) that unit alone is estimated by the
straight line, with a reason code saying so: a recommendation never fails for want of a road. Until
the network is loaded (``attach``), every unit is estimated by the straight line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatch.recommend import Reason
from dispatch.travel import Estimate, Point, StraightLineTravel
from roads.profiles import DEFAULT_PROFILE, PROFILES
from roads.router import Miss, RoadRouter, Route

# why a unit was estimated by the straight line although roads are configured
_FALLBACK = {
    Miss.ORIGIN_OFF_ROAD: Reason.UNIT_OFF_ROAD,
    Miss.TARGET_OFF_ROAD: Reason.SCENE_OFF_ROAD,
    Miss.UNREACHABLE: Reason.NO_ROAD_BETWEEN,
    Miss.NO_PROFILE: Reason.ROADS_NOT_LOADED,
}


class RoadTravel:
    """Road travel times per unit kind, the straight line standing in unit by unit."""

    def __init__(
        self, profiles: Mapping[str, str], kind_speeds_kmh: Mapping[str, float],
        straight: StraightLineTravel, candidate_pool: int = 10, router: RoadRouter | None = None,
    ) -> None:  # fmt: skip
        unknown = sorted({p for p in profiles.values() if p not in PROFILES})
        if unknown:
            raise ValueError(f"unknown road profiles {unknown}; known: {sorted(PROFILES)}")
        self._profiles = dict(profiles)
        self._factor = {
            kind: PROFILES[self.profile(kind)].kind_factor(speed) for kind, speed in kind_speeds_kmh.items()
        }
        self._straight = straight
        self.candidate_pool = candidate_pool
        self.router = router

    def attach(self, router: RoadRouter) -> None:
        """The loaded network: from now on units are ranked by road."""
        self.router = router

    def profile(self, kind: str) -> str:
        return self._profiles.get(kind, DEFAULT_PROFILE)

    def wanted_profiles(self) -> frozenset[str]:
        return frozenset({DEFAULT_PROFILE, *self._profiles.values()})

    def seconds(self, kind: str, from_lat: float, from_lon: float, to_lat: float, to_lon: float) -> float:
        return self.many_to_one(kind, [(from_lat, from_lon)], to_lat, to_lon)[0].seconds

    def many_to_one(
        self, kind: str, origins: Sequence[Point], to_lat: float, to_lon: float
    ) -> list[Estimate]:
        router = self.router
        if router is None:
            answers: list[float | Miss] = [Miss.NO_PROFILE] * len(origins)
        else:
            answers = router.many_to_one(self.profile(kind), origins, (to_lat, to_lon))
        factor = self._factor.get(kind, 1.0)
        out = []
        for (lat, lon), answer in zip(origins, answers, strict=True):
            if isinstance(answer, Miss):
                straight = self._straight.seconds(kind, lat, lon, to_lat, to_lon)
                out.append(Estimate(straight, fallback=_FALLBACK[answer].value))
            else:
                out.append(Estimate(answer * factor, by_road=True))
        return out

    def route(self, kind: str, origin: Point, target: Point) -> Route | None:
        """The unit's road route to the scene, timed at its kind's pace; None without one."""
        router = self.router
        if router is None:
            return None
        found = router.route(self.profile(kind), origin, target)
        if isinstance(found, Miss):
            return None
        factor = self._factor.get(kind, 1.0)
        return Route(found.seconds * factor, found.metres, found.geometry)

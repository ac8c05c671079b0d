"""The road router the center talks to, by coordinates, behind a protocol of its own.

``RoadRouter`` is all the rest of the center knows about roads: travel times from many points to one
(``many_to_one``) and one route with its geometry (``route``). ``EmbeddedRouter`` answers both from
graphs held in this process; a site running OSRM or Valhalla as a service would implement the same two
calls over HTTP. A point is snapped to its nearest road node and the stretch off the road is covered at
the profile's access speed, the same way for every unit, so the ranking stays fair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.geo import EARTH_RADIUS_M
from roads.engines import UNREACHABLE, PathEngine
from roads.graph import RoadGraph
from roads.profiles import PROFILES
from roads.snap import OFF, Snapper

Point = tuple[float, float]  # (lat, lon), WGS-84 degrees
# a route's geometry is thinned to at most this many points: enough to draw, bounded on a socket frame
MAX_ROUTE_POINTS = 400


class Miss(StrEnum):
    """Why the router has no road answer for a pair of points."""

    ORIGIN_OFF_ROAD = "origin_off_road"
    TARGET_OFF_ROAD = "target_off_road"
    UNREACHABLE = "unreachable"
    NO_PROFILE = "profile_not_loaded"


@dataclass(frozen=True, slots=True)
class Route:
    """A fastest route: seconds, metres by road, and its line from the origin to the target."""

    seconds: float
    metres: float
    geometry: tuple[Point, ...]


class RoadRouter(Protocol):
    """Road travel by profile (see ``roads.profiles``)."""

    def profiles(self) -> frozenset[str]: ...

    def many_to_one(self, profile: str, origins: Sequence[Point], target: Point) -> list[float | Miss]:
        """Seconds by road from each origin to ``target``, or why there is none."""
        ...

    def route(self, profile: str, origin: Point, target: Point) -> Route | Miss: ...


@dataclass(frozen=True, slots=True)
class Network:
    """One profile's graph, its snapper and the engine that answers on it."""

    graph: RoadGraph
    snapper: Snapper
    engine: PathEngine


class EmbeddedRouter:
    """Routes on graphs held in memory; safe to call from several threads."""

    def __init__(self, networks: Mapping[str, Network]) -> None:
        self._networks = dict(networks)

    def profiles(self) -> frozenset[str]:
        return frozenset(self._networks)

    def network(self, profile: str) -> Network | None:
        return self._networks.get(profile)

    def many_to_one(self, profile: str, origins: Sequence[Point], target: Point) -> list[float | Miss]:
        net = self._networks.get(profile)
        if net is None:
            return [Miss.NO_PROFILE] * len(origins)
        end = net.snapper.snap([target])[0]
        if end is None:
            return [Miss.TARGET_OFF_ROAD] * len(origins)
        access_mps = PROFILES[profile].access_kmh / 3.6
        starts = net.snapper.snap_pairs(origins)
        on_road = [node for node, _ in starts if node != OFF]
        ms = iter(net.engine.many_to_one(on_road, end[0]).tolist())
        end_m = end[1]
        out: list[float | Miss] = []
        for node, metres in starts:
            if node == OFF:
                out.append(Miss.ORIGIN_OFF_ROAD)
            elif (d := next(ms)) == UNREACHABLE:
                out.append(Miss.UNREACHABLE)
            else:
                out.append(d / 1000 + (metres + end_m) / access_mps)
        return out

    def route(self, profile: str, origin: Point, target: Point) -> Route | Miss:
        net = self._networks.get(profile)
        if net is None:
            return Miss.NO_PROFILE
        start, end = net.snapper.snap([origin, target])
        if start is None:
            return Miss.ORIGIN_OFF_ROAD
        if end is None:
            return Miss.TARGET_OFF_ROAD
        found = net.engine.path(start[0], end[0])
        if found is None:
            return Miss.UNREACHABLE
        ms, nodes = found
        g = net.graph
        lat, lon = g.lat[nodes], g.lon[nodes]
        road_m = float(_segments_m(lat, lon).sum())
        access_mps = PROFILES[profile].access_kmh / 3.6
        seconds = ms / 1000 + (start[1] + end[1]) / access_mps
        line = [origin, *zip(lat.tolist(), lon.tolist(), strict=True), target]
        return Route(seconds, road_m + start[1] + end[1], _thin(line))


def _segments_m(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Great-circle metres between consecutive points (the same formula the arcs were measured by)."""
    p = np.radians(lat)
    dphi = np.diff(p)
    dlam = np.radians(np.diff(lon))
    h = np.sin(dphi / 2) ** 2 + np.cos(p[:-1]) * np.cos(p[1:]) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))  # type: ignore[no-any-return]


def _thin(line: list[Point]) -> tuple[Point, ...]:
    if len(line) <= MAX_ROUTE_POINTS:
        return tuple(line)
    step = (len(line) - 1) / (MAX_ROUTE_POINTS - 1)
    return tuple(line[round(i * step)] for i in range(MAX_ROUTE_POINTS))

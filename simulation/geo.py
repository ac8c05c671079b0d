"""Small plane geometry on WGS-84 points: offsets in metres, points along a line, random points."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

from core.geo import EARTH_RADIUS_M, haversine_m

# Roads are rarely straight: a trip is this much longer than the straight line (the same factor as the
# center's travel-time estimate, dispatch/travel.py), so a simulated unit takes as long as estimated.
CIRCUITY = 1.3

Point = tuple[float, float]  # (lat, lon)


def offset(lat: float, lon: float, north_m: float, east_m: float) -> Point:
    """The point ``north_m`` metres north and ``east_m`` east of (lat, lon)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def scatter(rng: random.Random, lat: float, lon: float, radius_m: float) -> Point:
    """A point uniformly distributed over the disc of ``radius_m`` around (lat, lon)."""
    r = radius_m * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    return offset(lat, lon, r * math.cos(a), r * math.sin(a))


def between(a: Point, b: Point, fraction: float) -> Point:
    """The point ``fraction`` of the way from a to b (straight, fine over a city)."""
    f = min(1.0, max(0.0, fraction))
    return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f


def along(path: Sequence[Point], fraction: float) -> Point:
    """The point ``fraction`` of the way along a line of points (by length)."""
    if len(path) < 2:
        return path[0]
    pairs = list(itertools.pairwise(path))
    legs = [distance_m(a, b) for a, b in pairs]
    left = min(1.0, max(0.0, fraction)) * sum(legs)
    for (a, b), leg in zip(pairs, legs, strict=True):
        if left <= leg:
            return between(a, b, left / leg if leg else 1.0)
        left -= leg
    return path[-1]


def distance_m(a: Point, b: Point) -> float:
    return haversine_m(a[0], a[1], b[0], b[1])


def road_m(a: Point, b: Point) -> float:
    """The length of a trip by road between two points."""
    return distance_m(a, b) * CIRCUITY


def heading(a: Point, b: Point) -> float:
    """Compass bearing from a to b in degrees, 0 <= h < 360."""
    north = b[0] - a[0]
    east = (b[1] - a[1]) * math.cos(math.radians(a[0]))
    return math.degrees(math.atan2(east, north)) % 360

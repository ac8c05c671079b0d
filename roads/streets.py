"""The loaded network's streets as the pages' own base layer: simplified GeoJSON, one file per detail.

A wall screen with no internet and no tile server still shows streets: the center serves them from
the extract it routes on. Three levels of detail, by zoom: main roads only for a whole-city view, then
the distributors, then every street; each way's line is thinned (Douglas-Peucker) to what that zoom
can show. The three are encoded once, kept beside the prepared graphs, and served as bytes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from core.geo import EARTH_RADIUS_M
from roads.osm import Way, read_ways

log = logging.getLogger(__name__)

FORMAT = 1
_MAIN = {"motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link"}
_MIDDLE = _MAIN | {"secondary", "tertiary", "secondary_link", "tertiary_link"}
_ALL = _MIDDLE | {"unclassified", "residential", "living_street", "service", "road", "pedestrian"}


@dataclass(frozen=True, slots=True)
class Detail:
    """One level: the lowest zoom it is for, the street classes it draws, how far a line may be
    thinned (metres)."""

    min_zoom: int
    classes: frozenset[str]
    tolerance_m: float


DETAILS = (
    Detail(0, frozenset(_MAIN), 25.0),
    Detail(14, frozenset(_MIDDLE), 8.0),
    Detail(16, frozenset(_ALL), 2.0),
)


def detail_for(zoom: int) -> int:
    """The index of the level a map at ``zoom`` draws."""
    return max(i for i, d in enumerate(DETAILS) if zoom >= d.min_zoom)


class StreetLayer:
    """The encoded levels once loaded (``None`` before)."""

    def __init__(self) -> None:
        self.levels: tuple[bytes, ...] | None = None

    def load(self, extract: Path, folder: Path, digest: str) -> None:
        """From the file beside the prepared graphs, or built from the extract and kept there."""
        paths = [folder / f"{digest[:20]}-streets{i}-v{FORMAT}.geojson" for i in range(len(DETAILS))]
        if all(p.exists() for p in paths):
            self.levels = tuple(p.read_bytes() for p in paths)
            return
        levels = encode(read_ways(extract))
        for path, data in zip(paths, levels, strict=True):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        self.levels = levels


def encode(ways: Iterable[Way]) -> tuple[bytes, ...]:
    """Each level as a GeoJSON FeatureCollection of LineStrings ([lon, lat], 5 decimals) with the
    street's class (and name, where it has one)."""
    features: list[list[dict[str, object]]] = [[] for _ in DETAILS]
    for way in ways:
        cls = way.tags.get("highway", "")
        if way.tags.get("area") == "yes":
            continue
        points = list(zip(way.lats, way.lons, strict=True))
        for i, d in enumerate(DETAILS):
            if cls not in d.classes:
                continue
            line = simplify(points, d.tolerance_m)
            props: dict[str, str] = {"class": cls}
            if "name" in way.tags:
                props["name"] = way.tags["name"]
            features[i].append({
                "type": "Feature", "properties": props,
                "geometry": {"type": "LineString",
                             "coordinates": [[round(lon, 5), round(lat, 5)] for lat, lon in line]},
            })  # fmt: skip
    return tuple(orjson.dumps({"type": "FeatureCollection", "features": f}) for f in features)


def simplify(points: Sequence[tuple[float, float]], tolerance_m: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on a local flat projection: the fewest points within ``tolerance_m`` of the line."""
    if len(points) <= 2:
        return list(points)
    k = math.radians(1) * EARTH_RADIUS_M
    c = math.cos(math.radians(points[0][0]))
    xy = [(lon * k * c, lat * k) for lat, lon in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = xy[first], xy[last]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        worst, at = -1.0, -1
        for i in range(first + 1, last):
            px, py = xy[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else math.hypot(px - ax, py - ay)
            if d > worst:
                worst, at = d, i
        if worst > tolerance_m:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]

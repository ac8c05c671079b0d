"""Snapping points to the nearest node of a road graph, with a KD-tree and a cache per position fix.

Units move all the time but a recommendation asks about the same fixes many times (every incident
nearby, every refill), so each fix is snapped once; the cache is bounded and simply starts again when
full. Distances are on a local flat projection, accurate to well under a metre across a city.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from core.geo import EARTH_RADIUS_M
from roads.graph import RoadGraph

CACHE_ENTRIES = 100_000


class Snapper:
    """Nearest graph node of a point, or none within ``max_m`` metres."""

    def __init__(self, graph: RoadGraph, max_m: float) -> None:
        if not (math.isfinite(max_m) and max_m > 0):
            raise ValueError(f"the maximum snap distance must be a positive number of metres, got {max_m!r}")
        self.max_m = max_m
        self._lat0 = float(np.mean(graph.lat))
        self._kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(self._lat0))
        self._ky = math.radians(1) * EARTH_RADIUS_M
        self._tree = cKDTree(np.column_stack((graph.lon * self._kx, graph.lat * self._ky)))
        self._cache: dict[tuple[float, float], tuple[int, float]] = {}

    def snap(self, points: Sequence[tuple[float, float]]) -> list[tuple[int, float] | None]:
        """(node, metres away) for each (lat, lon), None where the nearest node is beyond ``max_m``."""
        cache = self._cache
        missing = list({p for p in points if p not in cache})
        if missing:
            if len(cache) + len(missing) > CACHE_ENTRIES:
                cache.clear()
            xy = np.array([(lon * self._kx, lat * self._ky) for lat, lon in missing], np.float64)
            dist, idx = self._tree.query(xy, k=1)
            for p, d, i in zip(missing, dist.tolist(), idx.tolist(), strict=True):
                cache[p] = (int(i), float(d))
        return [hit if (hit := cache[p])[1] <= self.max_m else None for p in points]

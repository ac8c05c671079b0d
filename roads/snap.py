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
OFF = -1  # the node of a point beyond the maximum snap distance


class Snapper:
    """Nearest graph node of a point, or none within ``max_m`` metres."""

    def __init__(self, graph: RoadGraph, max_m: float) -> None:
        if not (math.isfinite(max_m) and max_m > 0):
            raise ValueError(f"the maximum snap distance must be a positive number of metres, got {max_m!r}")
        self.max_m = max_m
        lat0 = float(np.mean(graph.lat))
        self._kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        self._ky = math.radians(1) * EARTH_RADIUS_M
        self._tree = cKDTree(np.column_stack((graph.lon * self._kx, graph.lat * self._ky)))
        self._cache: dict[tuple[float, float], tuple[int, float]] = {}

    def snap(self, points: Sequence[tuple[float, float]]) -> list[tuple[int, float] | None]:
        """(node, metres away) for each (lat, lon), None where the nearest node is beyond ``max_m``."""
        return [None if node == OFF else (node, metres) for node, metres in self.snap_pairs(points)]

    def snap_pairs(self, points: Sequence[tuple[float, float]]) -> list[tuple[int, float]]:
        """(node, metres away) for each (lat, lon); the node is OFF beyond ``max_m``."""
        cache = self._cache
        found = [cache.get(p) for p in points]
        missing = [i for i, hit in enumerate(found) if hit is None]
        if missing:
            if len(cache) + len(missing) > CACHE_ENTRIES:
                cache.clear()
            xy = np.array([points[i] for i in missing], np.float64)[:, ::-1] * (self._kx, self._ky)
            dist, idx = self._tree.query(xy, k=1, distance_upper_bound=self.max_m)
            for i, d, n in zip(missing, dist.tolist(), idx.tolist(), strict=True):
                hit = (OFF, math.inf) if math.isinf(d) else (int(n), float(d))
                found[i] = cache[points[i]] = hit
        return found  # type: ignore[return-value]

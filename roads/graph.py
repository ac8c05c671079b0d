"""The road graph of one profile: nodes with positions, directed arcs with length and travel time.

Arcs carry integer milliseconds, so two engines summing them agree exactly. Only the largest strongly
connected piece is kept: from any of its nodes every other is reachable and back, so a point snapped
onto the graph can always be routed to and from (fragments cut off at the extract's edge are dropped).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from core.geo import haversine_m
from roads.osm import Way
from roads.profiles import Profile, directions, speed_kmh

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RoadGraph:
    """Node i is at (lat[i], lon[i]); arc a goes tail[a] -> head[a] in ms[a] milliseconds, metres[a]."""

    profile: str
    lat: F64
    lon: F64
    tail: I64
    head: I64
    ms: I64
    metres: F64

    @property
    def node_count(self) -> int:
        return int(self.lat.shape[0])

    @property
    def arc_count(self) -> int:
        return int(self.tail.shape[0])

    def matrix(self, values: npt.NDArray[np.float64] | None = None) -> csr_matrix:
        """The arcs as a sparse matrix (tail x head) of ``values`` (their milliseconds by default)."""
        data = self.ms.astype(np.float64) if values is None else values
        n = self.node_count
        return csr_matrix((data, (self.tail, self.head)), shape=(n, n))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.lat, self.lon, self.tail, self.head, self.ms, self.metres))

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The graph as named arrays, the form it is saved in (``np.savez``, no pickles)."""
        return {"lat": self.lat, "lon": self.lon, "tail": self.tail, "head": self.head, "ms": self.ms,
                "metres": self.metres, "profile": np.array(self.profile)}  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> RoadGraph:
        with np.load(path, allow_pickle=False) as z:
            return cls(str(z["profile"]), z["lat"], z["lon"], z["tail"], z["head"], z["ms"], z["metres"])


def build_graph(profile: Profile, ways: Iterable[Way]) -> RoadGraph:
    """The profile's graph of ``ways``: one arc per usable direction of each segment, the fastest of
    parallel arcs, then the largest strongly connected piece."""
    index: dict[int, int] = {}
    lats: list[float] = []
    lons: list[float] = []
    tails: list[int] = []
    heads: list[int] = []
    times: list[int] = []
    lengths: list[float] = []

    def node(osm_id: int, lat: float, lon: float) -> int:
        i = index.get(osm_id)
        if i is None:
            i = index[osm_id] = len(lats)
            lats.append(lat)
            lons.append(lon)
        return i

    for way in ways:
        speed = speed_kmh(profile, way.tags)
        if speed is None:
            continue
        forward, backward = directions(profile, way.tags)
        mps = speed / 3.6
        for k in range(len(way.node_ids) - 1):
            a = node(way.node_ids[k], way.lats[k], way.lons[k])
            b = node(way.node_ids[k + 1], way.lats[k + 1], way.lons[k + 1])
            if a == b:
                continue
            metres = haversine_m(way.lats[k], way.lons[k], way.lats[k + 1], way.lons[k + 1])
            ms = max(1, round(metres / mps * 1000))
            for t, h, usable in ((a, b, forward), (b, a, backward)):
                if usable:
                    tails.append(t)
                    heads.append(h)
                    times.append(ms)
                    lengths.append(metres)
    arcs = (np.array(tails, np.int64), np.array(heads, np.int64), np.array(times, np.int64))
    return _strongest_piece(profile.name, np.array(lats), np.array(lons), *arcs, np.array(lengths))


def _strongest_piece(
    profile: str, lat: F64, lon: F64, tail: I64, head: I64, ms: I64, metres: F64
) -> RoadGraph:
    if tail.size == 0:
        raise ValueError(f"the extract has no way that the {profile!r} profile may use")
    # parallel arcs (two ways over one pair of nodes): keep the fastest
    order = np.lexsort((ms, head, tail))
    tail, head, ms, metres = tail[order], head[order], ms[order], metres[order]
    first = np.ones(tail.size, bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, ms, metres = tail[first], head[first], ms[first], metres[first]
    n = lat.size
    shape = csr_matrix((np.ones(tail.size), (tail, head)), shape=(n, n))
    _, labels = connected_components(shape, directed=True, connection="strong")
    biggest = np.bincount(labels).argmax()
    keep = labels == biggest
    renumber = np.full(n, -1, np.int64)
    renumber[keep] = np.arange(int(keep.sum()))
    arcs = keep[tail] & keep[head]
    return RoadGraph(profile, lat[keep], lon[keep], renumber[tail[arcs]], renumber[head[arcs]], ms[arcs],
                     metres[arcs])  # fmt: skip

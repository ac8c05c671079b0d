"""Shortest-path engines over one ``RoadGraph``, by node index and integer milliseconds.

``CchEngine`` answers queries with RoutingKit's customizable contraction hierarchies (the
``routingkit-cch`` bindings: BSD-2-Clause, an abi3 wheel, and a batched many-to-one query that
answers 2,000 sources in about a millisecond). ``DijkstraEngine`` is scipy's Dijkstra on the same
arcs: slow, obviously right, the reference the tests hold the first one to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import routingkit_cch as rk
from scipy.sparse.csgraph import dijkstra

from roads.graph import RoadGraph

UNREACHABLE = -1


class PathEngine(Protocol):
    """Fastest paths on one graph."""

    def many_to_one(self, sources: Sequence[int], target: int) -> npt.NDArray[np.int64]:
        """Milliseconds from each source to ``target``, UNREACHABLE where there is no path."""
        ...

    def path(self, source: int, target: int) -> tuple[int, list[int]] | None:
        """(milliseconds, the nodes of a fastest path, both ends included); None when there is none."""
        ...


def node_order(graph: RoadGraph) -> list[int]:
    """The contraction order (nested dissection by inertial flow): the slow, weight-free step,
    worth keeping beside the graph so that the next start skips it."""
    return list(rk.compute_order_inertial(
        graph.node_count, graph.tail.tolist(), graph.head.tolist(), graph.lat.tolist(), graph.lon.tolist()
    ))  # fmt: skip


class CchEngine:
    """Contraction hierarchy customized with the graph's travel times. Thread-safe for queries: the
    bindings' query objects may only live on the thread that made them, so each call makes its own
    (its buffers, one slot per node, are the price: about 0.06 ms on a district, 0.7 ms on a province)."""

    def __init__(self, graph: RoadGraph, order: Sequence[int]) -> None:
        self._cch = rk.CCH(list(order), graph.tail.tolist(), graph.head.tolist(), False)
        self._metric = rk.CCHMetric(self._cch, graph.ms.tolist())

    def many_to_one(self, sources: Sequence[int], target: int) -> npt.NDArray[np.int64]:
        if not sources:
            return np.empty(0, np.int64)
        found = rk.CCHManyToOne(self._metric, list(sources)).distances_to(target)
        return np.array([UNREACHABLE if d is None else d for d in found], np.int64)

    def path(self, source: int, target: int) -> tuple[int, list[int]] | None:
        result = rk.CCHQuery(self._metric).run(source, target)
        if result.distance is None:
            return None
        return int(result.distance), list(result.node_path) or [source]


class DijkstraEngine:
    """scipy's Dijkstra from the target over the reversed arcs: one search answers every source."""

    def __init__(self, graph: RoadGraph) -> None:
        self._forward = graph.matrix()
        self._reverse = self._forward.transpose().tocsr()

    def many_to_one(self, sources: Sequence[int], target: int) -> npt.NDArray[np.int64]:
        dist = dijkstra(self._reverse, indices=target)
        picked = dist[np.asarray(sources, np.int64)] if sources else np.empty(0)
        return np.where(np.isinf(picked), UNREACHABLE, picked).astype(np.int64)

    def path(self, source: int, target: int) -> tuple[int, list[int]] | None:
        dist, pred = dijkstra(self._forward, indices=source, return_predecessors=True)
        if np.isinf(dist[target]):
            return None
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(int(pred[nodes[-1]]))
        return int(dist[target]), nodes[::-1]

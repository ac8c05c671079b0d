"""A generated city written as a real ``.osm.pbf``: a street grid with a road hierarchy, optionally
cut by a river with a few bridges and with one-way streets. The tests use small ones where the answer
is known by construction; the bench uses a large one (100,000+ nodes) to measure preparation and
queries beyond the shipped extract. It goes through the same reader as any real extract.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from core.geo import EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class GridCity:
    """``rows`` x ``cols`` crossings ``spacing_m`` apart, north-east of ``origin`` (lat, lon).

    Every 10th street is primary, every 5th secondary, the rest residential. With ``river_after_col``
    the east-west streets are cut between that column and the next, except the rows in ``bridges``.
    The rows in ``oneway_rows`` are one-way eastwards (in node order). With ``cell`` every ``cell``-th
    street is an arterial running the whole city and the streets between are local: they start at the
    arterial to their west (or south) and stop one crossing short of the next, as neighbourhoods do
    that open onto two of their four sides; without it every street runs the whole city.
    """

    rows: int
    cols: int
    spacing_m: float = 100.0
    origin: tuple[float, float] = (31.20, 121.45)
    river_after_col: int | None = None
    bridges: Collection[int] = ()
    oneway_rows: Collection[int] = field(default_factory=frozenset)
    cell: int | None = None

    def point(self, row: float, col: float) -> tuple[float, float]:
        """(lat, lon) of a position on the grid, in rows and columns (fractions between crossings)."""
        lat0, lon0 = self.origin
        dlat = math.degrees(self.spacing_m / EARTH_RADIUS_M)
        dlon = dlat / math.cos(math.radians(lat0))
        return lat0 + row * dlat, lon0 + col * dlon

    def node_id(self, row: int, col: int) -> int:
        return row * self.cols + col + 1

    def write(self, path: Path) -> Path:
        """Write the city to ``path`` (``.osm.pbf`` or ``.osm``), replacing any file there."""
        path.unlink(missing_ok=True)
        writer = osmium.SimpleWriter(str(path))
        try:
            for r in range(self.rows):
                for c in range(self.cols):
                    lat, lon = self.point(r, c)
                    writer.add_node(osmium.osm.mutable.Node(id=self.node_id(r, c), location=(lon, lat)))
            way_id = 1
            for r in range(self.rows):
                tags = _street_tags(r)
                if r in self.oneway_rows:
                    tags["oneway"] = "yes"
                for lo, hi in self._row_spans(r):
                    nodes = [self.node_id(r, c) for c in range(lo, hi + 1)]
                    writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=nodes, tags=tags))
                    way_id += 1
            for c in range(self.cols):
                for lo, hi in self._local_spans(c, self.rows):
                    nodes = [self.node_id(r, c) for r in range(lo, hi + 1)]
                    writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=nodes, tags=_street_tags(c)))
                    way_id += 1
        finally:
            writer.close()
        return path

    def _row_spans(self, row: int) -> list[tuple[int, int]]:
        cut = self.river_after_col
        spans = self._local_spans(row, self.cols)
        if cut is None or row in self.bridges or not 0 <= cut < self.cols - 1:
            return spans
        pieces = [(lo, min(hi, cut)) for lo, hi in spans if lo <= cut]
        pieces += [(max(lo, cut + 1), hi) for lo, hi in spans if hi > cut]
        return [(lo, hi) for lo, hi in pieces if hi > lo]

    def _local_spans(self, index: int, length: int) -> list[tuple[int, int]]:
        """Stretches (first, last crossing) of street ``index`` across ``length`` crossings."""
        cell = self.cell
        if cell is None or index % cell == 0:
            return [(0, length - 1)]
        return [(lo, min(lo + cell - 1, length - 1)) for lo in range(0, length - 1, cell)]


def _street_tags(index: int) -> dict[str, str]:
    if index % 10 == 0:
        return {"highway": "primary", "maxspeed": "50"}
    if index % 5 == 0:
        return {"highway": "secondary"}
    return {"highway": "residential"}

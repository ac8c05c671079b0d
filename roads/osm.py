"""Reading an OpenStreetMap extract (``.osm.pbf`` or ``.osm``) into the ways a router may need.

Only ways with a ``highway`` tag are kept, with the few tags the profiles read and their nodes' WGS-84
positions (nodes the extract lacks, at a clip edge, are dropped from the way).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import osmium

# the tags profiles.py reads; everything else is left behind to keep memory small
KEPT_TAGS = (
    "highway", "oneway", "oneway:foot", "junction", "maxspeed", "access", "vehicle", "motor_vehicle",
    "motorcar", "motorcycle", "foot", "emergency", "area", "name",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Way:
    """One OSM way with a highway tag: its kept tags and its nodes (OSM id, lat, lon) in order."""

    way_id: int
    tags: dict[str, str]
    node_ids: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]


def read_ways(path: Path) -> Iterator[Way]:
    """The extract's highway ways, in file order."""
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for obj in processor:
        if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
            continue
        tags = {k: obj.tags[k] for k in KEPT_TAGS if k in obj.tags}
        ids, lats, lons = [], [], []
        for node in obj.nodes:
            if node.location.valid():
                ids.append(node.ref)
                lats.append(node.location.lat)
                lons.append(node.location.lon)
        if len(ids) >= 2:
            yield Way(obj.id, tags, tuple(ids), tuple(lats), tuple(lons))

"""An extract made ready for queries once, and kept beside its data so the next start takes a second.

Preparing means reading the extract, building each profile's graph and ordering its nodes for the
contraction hierarchy: seconds for a district, minutes for a province. The result is written next to
the extract (or into a fallback folder when that one is read-only), named by the extract's content
hash, the profile and the format version, so a changed extract or a new format is prepared afresh and
never confused with an old one. Everything here is CPU-bound: call it from a thread, not the loop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roads.engines import CchEngine, node_order
from roads.graph import RoadGraph, build_graph
from roads.osm import Way, read_ways
from roads.profiles import PROFILES
from roads.router import EmbeddedRouter, Network
from roads.snap import Snapper

log = logging.getLogger(__name__)

FORMAT = 1
DEFAULT_MAX_SNAP_M = 300.0


@dataclass(frozen=True, slots=True)
class Loaded:
    """A ready router and how it came to be (for logs and the bench)."""

    router: EmbeddedRouter
    digest: str
    seconds: float
    prepared: tuple[str, ...]  # profiles built now rather than loaded from the cache
    nbytes: int


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def cache_folder(extract: Path, fallback: Path | None) -> Path:
    """Beside the extract when that folder can be written, else ``fallback``."""
    beside = extract.parent / f"{extract.name}.prepared"
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside
    except OSError:
        pass
    if fallback is None:
        raise OSError(f"cannot write beside {extract.name} and no other folder for its prepared form")
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def load_router(
    extract: Path, profiles: Iterable[str] = tuple(PROFILES), fallback_cache: Path | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Loaded:  # fmt: skip
    """A router for ``profiles`` on ``extract``, from the cache where it holds them."""
    started = time.perf_counter()
    wanted = sorted(set(profiles))
    unknown = [p for p in wanted if p not in PROFILES]
    if unknown:
        raise ValueError(f"unknown road profiles {unknown}; known: {sorted(PROFILES)}")
    digest = file_digest(extract)
    folder = cache_folder(extract, fallback_cache)
    ways: list[Way] | None = None
    networks: dict[str, Network] = {}
    built: list[str] = []
    for name in wanted:
        path = folder / f"{digest[:20]}-{name}-v{FORMAT}.npz"
        loaded = _read_cache(path)
        if loaded is None:
            if ways is None:
                ways = list(read_ways(extract))
            graph = build_graph(PROFILES[name], ways)
            order = node_order(graph)
            _write_cache(path, graph, order)
            built.append(name)
        else:
            graph, order = loaded
        networks[name] = Network(graph, Snapper(graph, max_snap_m), CchEngine(graph, order))
    seconds = time.perf_counter() - started
    nbytes = sum(n.graph.nbytes() for n in networks.values())
    log.info("roads of %s ready in %.2f s (prepared now: %s)", extract.name, seconds, built or "none")
    return Loaded(EmbeddedRouter(networks), digest, seconds, tuple(built), nbytes)


def _read_cache(path: Path) -> tuple[RoadGraph, list[int]] | None:
    if not path.exists():
        return None
    try:
        graph = RoadGraph.load(path)
        with np.load(path, allow_pickle=False) as z:
            order = z["order"].tolist()
    except (OSError, ValueError, KeyError) as exc:
        log.warning("prepared roads %s unreadable (%s): preparing again", path.name, exc)
        return None
    if len(order) != graph.node_count:
        return None
    return graph, order


def _write_cache(path: Path, graph: RoadGraph, order: list[int]) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a cache."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{**graph.arrays(), "order": np.asarray(order, np.int64)})  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

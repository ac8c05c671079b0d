"""How big a run is (the defaults, smoke's smaller ones, or the command line's), what every phase
shares while it runs, and where in the city the load happens."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.clients import Signals, Target
from bench.control import CpuMeter, Progress, run_child

CITY = (31.10, 31.35, 121.30, 121.60)  # lat and lon bounds: a city of about 28 x 28 km
SPACING_M = 300  # alert places further apart than any duplicate radius used here, so none is "linked"
# the sections one run may be limited to (``--only``); machine limits are measured in every run
SECTIONS = ("latency", "positions", "search", "ops", "intake", "roads", "reports")


@dataclass(frozen=True)
class Plan:
    smoke: bool
    sections: frozenset[str]
    units: int  # registered, each on its own /ws/unit socket
    alerts: int  # alert -> offer, measured
    warmup: int
    rate: float
    clients: int  # keep-alive HTTP connections per client process
    intake: int
    fix_batches: int
    ws_seconds: float  # position messages over /ws/unit, per run (the no-op echo gets half)
    search_units: int
    searches: int
    screens: int  # /ws/ops clients
    screen_alerts: int
    screen_rate: float
    noop_events: int
    noop_burst: int
    limit_s: float
    hops: int
    json_path: Path
    road_grid_side: int = 320  # the generated city: side x side crossings (320: 102,400)
    road_queries: int = 500  # many-to-one queries per size and extract
    road_units: int = 10_000  # live units for the whole recommendation, by road and straight line
    road_searches: int = 500
    report_incidents: int = 2_000_000  # a year of a big city's calls, for the reports
    socket_processes: int = 2  # client processes that share the unit sockets, or the screens
    ws_in_flight: int = 64  # unanswered position messages at a time, all processes together

    @classmethod
    def make(cls, smoke: bool, alerts: int | None, units: int | None, rate: float | None,
             connections: int | None, json_path: Path | None, only: Collection[str] = (),
             screens: int | None = None) -> Plan:  # fmt: skip
        unknown = set(only) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return cls(
            smoke=smoke, sections=frozenset(only or SECTIONS), units=units or (50 if smoke else 1000),
            alerts=alerts or (30 if smoke else 300), warmup=5 if smoke else 20, rate=rate or 50.0,
            clients=connections or 16, intake=100 if smoke else 2000, fix_batches=5 if smoke else 50,
            ws_seconds=1.0 if smoke else 6.0, search_units=200 if smoke else 10_000,
            searches=100 if smoke else 2000, screens=screens or (20 if smoke else 1000),
            screen_alerts=10 if smoke else 100, screen_rate=5.0, noop_events=10 if smoke else 50,
            noop_burst=5 if smoke else 20, limit_s=0.3 if smoke else 1.5, hops=100 if smoke else 500,
            json_path=json_path or Path("bench-results") / f"bench-{stamp}.json",
            road_grid_side=40 if smoke else 320, road_queries=20 if smoke else 500,
            road_units=500 if smoke else 10_000, road_searches=20 if smoke else 500,
            report_incidents=20_000 if smoke else 2_000_000,
        )  # fmt: skip

    def runs(self, *sections: str) -> bool:
        """Whether any of these sections is part of this run."""
        return not self.sections.isdisjoint(sections)


@dataclass
class Run:
    """What every phase shares."""

    plan: Plan
    target: Target
    say: Progress
    stack: contextlib.ExitStack
    meter: CpuMeter
    id: str
    center_pid: int
    notes: list[str] = field(default_factory=list)

    def child(self, label: str, main: Callable[[Any, Signals], None], plan: object, total: int,
              timeout: float) -> dict[str, Any]:  # fmt: skip
        return run_child(self.say, self.stack, label, main, plan, total, timeout, self.meter)


def alert_places(seed: int) -> list[tuple[float, float]]:
    """Grid points SPACING_M apart over the city, shuffled."""
    lat0, lat1, lon0, lon1 = CITY
    dlat = SPACING_M / 111_320
    dlon = dlat / 0.855  # cos(31.2 degrees)
    rows, cols = int((lat1 - lat0) / dlat), int((lon1 - lon0) / dlon)
    places = [(lat0 + r * dlat, lon0 + c * dlon) for r in range(rows) for c in range(cols)]
    random.Random(seed).shuffle(places)
    return places


def unit_homes(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lat0, lat1, lon0, lon1 = CITY
    return [(rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)) for _ in range(count)]


def cycle(places: list[tuple[float, float]], start: int, count: int) -> list[tuple[float, float]]:
    return [places[(start + i) % len(places)] for i in range(count)]


def split(items: list[Any], parts: int) -> list[list[Any]]:
    """Into ``parts`` nearly equal slices (fewer when there are fewer items), order kept."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    bounds = [n * size + min(n, extra) for n in range(parts + 1)]
    return [items[bounds[n] : bounds[n + 1]] for n in range(parts)]

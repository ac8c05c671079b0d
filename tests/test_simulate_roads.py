"""The replay on real roads: the Baltimore police calls read and mapped, a fleet of patrol cars, units
that drive along road routes, and figures per priority."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import pytest

from dispatch.road_travel import RoadTravel
from dispatch.travel import StraightLineTravel
from roads.prepared import load_router
from simulation.calls import BALTIMORE_FILE, BALTIMORE_ROADS, choose, map_call, read_calls
from simulation.geo import along, distance_m
from simulation.metrics import RunLog, summarise, table
from simulation.stations import replay_fleet
from units.kinds import load_kinds


def test_the_baltimore_calls_are_read_without_the_officers_own_entries() -> None:
    """309 calls from the public (the 74 officer-initiated or administrative rows left out), one
    stretch of the afternoon and evening, each at the department's priority."""
    calls = read_calls(BALTIMORE_FILE)
    assert len(calls) == 383 - 74
    assert not [c for c in calls if "TRAFFIC STOP" in c.title.upper()]
    assert Counter(c.priority for c in calls) == {"Medium": 173, "Low": 82, "High": 29, "Non-Emergency": 25}
    chosen, _ = choose(calls, None, None)
    assert len(chosen) == 309 and chosen[0].at.hour == 13 and chosen[-1].at.hour == 23
    mapped = {c.priority: map_call(c.title, {}, c.priority) for c in calls}
    assert {p: (m.channel, m.priority) for p, m in mapped.items()} == {
        "High": ("110", 1),
        "Medium": ("110", 2),
        "Low": ("110", 3),
        "Non-Emergency": ("110", 4),
    }


def test_police_calls_get_a_fleet_of_patrol_cars_where_the_calls_come_from() -> None:
    calls = read_calls(BALTIMORE_FILE)
    specs, _ = replay_fleet(calls, 12, prefix="B")
    assert len(specs) == 12 and {s.kind for s in specs} == {"patrol_car"}
    lats = [c.lat for c in calls]
    assert all(min(lats) <= s.base[0] <= max(lats) for s in specs)


def test_a_point_along_a_route_moves_by_length() -> None:
    path = [(39.28, -76.60), (39.28, -76.59), (39.29, -76.59)]
    first, second = distance_m(path[0], path[1]), distance_m(path[1], path[2])
    halfway = along(path, 0.5)  # past the corner: on the second leg
    assert distance_m(path[1], halfway) == pytest.approx((first + second) / 2 - first, rel=1e-3)
    assert along(path, 0.0) == path[0] and along(path, 1.0) == path[-1]
    assert along(path, first / (first + second)) == pytest.approx(path[1])


def test_simulated_units_have_the_road_network_as_their_truth(tmp_path: Path) -> None:
    """The route a simulated patrol car drives is the center's road route: its time by road, longer
    than the straight line."""
    extract = tmp_path / BALTIMORE_ROADS.name
    shutil.copyfile(BALTIMORE_ROADS, extract)
    kinds = load_kinds()
    router = load_router(extract, ["emergency"]).router
    profiles = {k: v.road_profile for k, v in kinds.items()}
    speeds = {k: v.speed_kmh for k, v in kinds.items()}
    roads = RoadTravel(profiles, speeds, StraightLineTravel.from_kinds(kinds.values()), router=router)
    a, b = (39.2905, -76.5800), (39.2850, -76.5600)
    route = roads.route("patrol_car", a, b)
    assert route is not None
    assert route.metres > distance_m(a, b)
    assert route.seconds == pytest.approx(roads.seconds("patrol_car", *a, *b))


def test_figures_per_priority_with_their_ratio() -> None:
    """Mean, p50, p90, within 5 minutes and time waited per priority; two runs give their ratio."""
    runs = {}
    for policy, slow in (("greedy", 2.0), ("center", 1.0)):
        log = RunLog(unit_kinds={1: "patrol_car"})
        for n, (priority, arrived) in enumerate([(1, 120), (1, 360), (2, 600)]):
            log.called(n, n, "assault", priority, 0)
            log.offered(1, n, 10)
            log.arrived(1, n, arrived * slow)
        runs[policy] = summarise(policy, log, window_s=1200, end_s=3000)
    one = runs["center"].by_priority[1]
    assert one.calls == 2 and one.mean.seconds == 240 and not one.mean.at_least
    assert one.within_5 == 0.5 and math.isnan(runs["center"].by_priority[2].within_5) is False
    shown = table(runs, {"greedy": "greedy", "center": "center"})
    assert "priority 1 (2 calls): mean" in shown
    mean_row = next(line for line in shown.splitlines() if "priority 1 (2 calls): mean" in line)
    assert mean_row.rstrip().endswith("0.50")

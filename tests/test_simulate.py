"""``dispatch-center simulate --replay``: real calls, a simulated fleet, two policies side by side."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from alerts.catalogue import load_catalogue
from dispatch.travel import StraightLineTravel
from simulation.calls import DEFAULT_FILE, choose, map_call, read_calls, windows
from simulation.greedy import greedy_picks
from simulation.metrics import RunLog, summarise
from simulation.replay import RunPlan
from simulation.stations import SHARES, fleet_sizes, kmeans, replay_fleet
from simulation.watch import SeenUnit
from tests.conftest import Stores, wipe
from units.kinds import load_kinds

STORM = datetime(2018, 11, 15, 12, 0)


def _channels() -> dict[str, frozenset[str]]:
    catalogue = load_catalogue(unit_kinds=load_kinds().keys())
    return {c.code: frozenset(ch.value for ch in c.channels) for c in catalogue}


def test_the_shipped_file_holds_the_storm_and_normal_afternoons() -> None:
    """3,051 calls in afternoon windows; the busiest, chosen by default, is the storm's 743 calls."""
    calls = read_calls(DEFAULT_FILE)
    assert len(calls) == 3051
    assert len(windows(calls)) > 30
    chosen, note = choose(calls, None, None)
    assert len(chosen) == 743 and chosen[0].at.date() == STORM.date() and "busiest" in note
    normal, _ = choose(calls, datetime(2018, 10, 15, 12), datetime(2018, 10, 15, 15))
    assert 60 <= len(normal) <= 120


def test_every_call_title_maps_to_a_category_on_a_channel_it_takes() -> None:
    """Each call becomes a catalogue category with a plan, on its agency's number where it can."""
    channels = _channels()
    catalogue = load_catalogue(unit_kinds=load_kinds().keys())
    agency_number = {"EMS": "120", "Fire": "119", "Traffic": "122"}
    own = 0
    calls = read_calls(DEFAULT_FILE)
    for call in calls:
        mapped = map_call(call.title, channels)
        assert mapped.channel in channels[mapped.category], call.title
        assert catalogue.get(mapped.category).plan, call.title
        assert mapped.priority in (None, 1, 2, 3, 4)
        own += mapped.channel == agency_number[call.agency]
    assert own / len(calls) > 0.9
    assert map_call("EMS: CARDIAC ARREST", channels).category == "cardiac_arrest"
    assert map_call("Traffic: VEHICLE ACCIDENT -", channels).category == "collision_property"
    assert map_call("EMS: SOMETHING NEW", channels).category == "minor_illness"


def test_the_replay_fleet_has_its_shares_and_stations_on_the_calls() -> None:
    """Units per kind add up, every kind is there; stations sit inside the county, hospitals too."""
    for total in (7, 10, 60, 100, 151):
        sizes = fleet_sizes(total)
        assert sum(sizes.values()) == total and set(sizes) == {s[0] for s in SHARES}
    calls = read_calls(DEFAULT_FILE)
    history = [c for c in calls if c.at.date() != STORM.date()]
    specs, hospitals = replay_fleet(history, 40, "T")
    assert len(specs) == 40 and len({s.callsign for s in specs}) == 40
    for lat, lon in [s.base for s in specs] + hospitals:
        assert 39.9 < lat < 40.5 and -75.8 < lon < -74.9
    assert kmeans([(40.0, -75.0), (40.0, -75.0)], 2) == [(40.0, -75.0), (40.0, -75.0)]


def test_calls_of_one_minute_are_spread_over_it() -> None:
    """The data has minute resolution: the replay spaces a minute's calls evenly within it."""
    calls = read_calls(DEFAULT_FILE)
    chosen, _ = choose(calls, STORM, datetime(2018, 11, 15, 12, 30))
    mapped = [(c, map_call(c.title, _channels())) for c in chosen]
    offsets = RunPlan("center", mapped, [], [], 1.0, 0.0, "t").offsets()
    assert offsets == sorted(offsets) and offsets[0] == 0.0
    assert len(set(offsets)) == len(offsets)


def test_greedy_takes_the_nearest_by_straight_line_for_each_place_of_the_plan() -> None:
    """Greedy nearest: straight-line distance, whatever the kind's speed, plan places in order."""
    from alerts.catalogue import PlanItem

    free = [
        SeenUnit(1, "foot_patrol", 1, "available", 40.0054, -75.0),  # 600 m away, on foot
        SeenUnit(2, "patrol_car", 1, "available", 40.02, -75.0),  # 2.2 km away, by car
        SeenUnit(3, "ambulance", 1, "available", 40.01, -75.0),
        SeenUnit(4, "ambulance", 1, "available", 40.005, -75.0),
        SeenUnit(5, "patrol_car", 2, "available", 40.0, -75.0),  # a tier the plan does not take
    ]
    plan = (PlanItem(("patrol_car", "foot_patrol"), 1), PlanItem(("ambulance",), 1))
    assert greedy_picks(40.0, -75.0, plan, free) == [1, 4]
    travel = StraightLineTravel({k.code: k.speed_kmh for k in load_kinds().values()})
    assert travel.seconds("patrol_car", 40.02, -75.0, 40.0, -75.0) < travel.seconds(
        "foot_patrol", 40.0054, -75.0, 40.0, -75.0
    )  # the center's own policy would send the car


def test_summary_counts_unreached_incidents_as_lower_bounds() -> None:
    """Quantiles over all incidents; one nobody reached counts with its wait so far, shown as '> x'."""
    log = RunLog(unit_kinds={1: "ambulance", 2: "ambulance"})
    for n, (called, arrived) in enumerate([(0, 240), (60, 660), (120, None), (180, 420)]):
        log.called(n, n, "stroke", 1, called)
        if arrived is None:
            log.pending(n, called)  # nobody free, ever
            continue
        log.offered(1, n, called + 10)
        log.arrived(1, n, arrived)
    log.worked(1, 10, 900)
    log.worked(1, 500, 1000)  # overlapping work counts once
    log.linked_to(0, 1, 300)  # a call about an incident with a unit already there
    log.drove(1, 99)
    s = summarise("center", log, window_s=1200, end_s=1320)
    assert s.unreached == 1 and s.incidents == 4 and s.calls == 5 and s.linked == 1
    assert s.p50.seconds == 240 and s.p50.at_least is False
    assert s.p90.at_least and s.p90.seconds == 1200
    assert math.isclose(s.driving, 99 / 990)
    assert s.within_5 == 0.6 and s.within_10 == 0.8
    assert s.waited == 1 and s.waited_total_s == 1200 and s.waited_p90.at_least
    assert math.isclose(s.utilisation, 990 / 2400)
    assert json.dumps(s.as_json())


@pytest.mark.timeout(150)
async def test_simulate_replays_a_slice_with_both_policies(stores: Stores, tmp_path: Path) -> None:
    """A short slice of real calls through real centers (one per policy): the report has both policies,
    their ratio, and a JSON copy; the run cleans up after itself."""
    await wipe(stores)
    rows = DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    slice_ = [r for r in rows if ",2018-10-15 12:" in r or ",2018-09-15 " in r]  # a slice, and history
    data = tmp_path / "calls.csv"
    data.write_text("\n".join(slice_) + "\n", encoding="utf-8")
    results = tmp_path / "out" / "replay.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
        "DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
    }  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "center.cli", "simulate", "--replay", str(data), "--from", "2018-10-15 12:00",
        "--to", "2018-10-15 12:40", "--speed", "600", "--units", "24", "--drain", "30",
        "--json", str(results),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 130)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr[-4000:]}"
    assert "greedy nearest" in stdout and "center policy" in stdout
    assert "center policy / greedy nearest" in stdout
    assert "response, call -> first arrival, p50" in stdout and "unit utilisation" in stdout
    report = json.loads(results.read_text(encoding="utf-8"))
    for policy in ("center", "greedy"):
        figures = report["policies"][policy]
        assert figures["incidents"] > 0 and figures["calls"] > 0
        assert figures["p50"]["seconds"] is not None

"""Surge assignment: several waiting incidents share out the free units by weighted travel time."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.catalogue import PlanItem
from core.geo import EARTH_RADIUS_M, haversine_m
from dispatch.joint import DEFAULT_WEIGHTS, assign_jointly
from dispatch.recommend import Candidate, Policy, Scene
from dispatch.travel import StraightLineTravel

TRAVEL = StraightLineTravel({"car": 36.0, "foot": 5.0}, circuity=1.0)  # a car covers 10 m/s
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
POLICY = Policy()


def at(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    return 30.0 + north_m / M_PER_DEG, 120.0 + east_m / (M_PER_DEG * math.cos(math.radians(30.0)))


def scene(north_m: float, priority: int, east_m: float = 0.0) -> Scene:
    return Scene(*at(north_m, east_m), priority=priority)


def unit(
    uid: int,
    north_m: float,
    kind: str = "car",
    *,
    east_m: float = 0.0,
    available: bool = True,
    fix_age_s: float = 0.0,
) -> Candidate:
    return Candidate(uid, kind, 1, *at(north_m, east_m), fix_age_s, 300.0, available)


def test_urgent_incident_gets_the_near_unit_even_if_it_came_second() -> None:
    """A priority-1 call that came second still gets the nearby car a priority-4 call would have taken."""
    minor, urgent = (10, scene(0, priority=4)), (11, scene(2000, priority=1))
    units = [unit(1, 1000), unit(2, -5000)]
    assert assign_jointly([minor, urgent], units, TRAVEL) == {11: 1, 10: 2}


def test_unreachable_incident_is_left_out() -> None:
    """An incident no unit can reach within the maximum distance is left for the dispatcher, not forced."""
    assert assign_jointly([(1, scene(0, 1)), (2, scene(50_000, 1))], [unit(7, 100)], TRAVEL) == {1: 7}


def test_busy_and_lost_units_are_not_used() -> None:
    """Busy units and units whose last fix is far too old are never assigned."""
    units = [unit(1, 10, available=False), unit(2, 20, fix_age_s=5000.0), unit(3, 9000)]
    assert assign_jointly([(1, scene(0, 1))], units, TRAVEL) == {1: 3}


def test_requirements_limit_the_suitable_units() -> None:
    """An incident whose plan starts with a foot patrol is not given the car, and the reverse."""
    units = [unit(1, 100, "car"), unit(2, 100, "foot")]
    needs = {1: PlanItem(("foot",), 1), 2: PlanItem(("car",), 1)}
    result = assign_jointly([(1, scene(0, 1)), (2, scene(0, 1))], units, TRAVEL, requirements=needs)
    assert result == {1: 2, 2: 1}


def test_more_incidents_than_units_serves_the_urgent_first() -> None:
    """With one car and two calls at the same spot, the more urgent call gets it."""
    result = assign_jointly([(1, scene(0, 3)), (2, scene(0, 1))], [unit(5, 300)], TRAVEL)
    assert result == {2: 5}


def test_empty_inputs_assign_nothing() -> None:
    """No incidents or no units: nothing to do and no error."""
    assert assign_jointly([], [unit(1, 0)], TRAVEL) == {}
    assert assign_jointly([(1, scene(0, 1))], [], TRAVEL) == {}


def test_repeated_ids_are_refused() -> None:
    """The same incident or unit twice is a caller bug, refused rather than double-assigned."""
    with pytest.raises(ValueError, match="incident"):
        assign_jointly([(1, scene(0, 1)), (1, scene(10, 1))], [unit(1, 0)], TRAVEL)
    with pytest.raises(ValueError, match="unit"):
        assign_jointly([(1, scene(0, 1))], [unit(1, 0), unit(1, 5)], TRAVEL)


# --- properties against greedy and against brute force -------------------------------------------------

OFFSET_M = st.integers(-50, 50).map(lambda n: n * 500.0)


@st.composite
def surges(draw: st.DrawFn) -> tuple[list[tuple[int, Scene]], list[Candidate]]:
    """Up to four waiting incidents and five units, some busy, stale or out of reach."""
    scenes = [
        (100 + i, scene(draw(OFFSET_M), draw(st.integers(1, 5)), draw(OFFSET_M)))
        for i in range(draw(st.integers(1, 4)))
    ]
    units = [
        unit(
            uid,
            draw(OFFSET_M),
            draw(st.sampled_from(["car", "foot"])),
            east_m=draw(OFFSET_M),
            available=draw(st.sampled_from([True, True, False])),
            fix_age_s=draw(st.sampled_from([0.0, 400.0, 2000.0])),
        )
        for uid in range(1, draw(st.integers(0, 5)) + 1)
    ]
    return scenes, units


def weight(s: Scene) -> float:
    return DEFAULT_WEIGHTS.get(s.priority, 1.0)


def cost(s: Scene, u: Candidate) -> float | None:
    """The rules restated for the oracles: weighted travel with stale penalty, None when not allowed."""
    if not u.available or u.fix_age_s > POLICY.exclude_stale_after_s:
        return None
    if haversine_m(u.lat, u.lon, s.lat, s.lon) > POLICY.max_distance_m:
        return None
    penalty = POLICY.stale_penalty_s if u.fix_age_s > u.stale_after_s else 0.0
    return weight(s) * (TRAVEL.seconds(u.kind, u.lat, u.lon, s.lat, s.lon) + penalty)


def score(
    scenes: list[tuple[int, Scene]], units: list[Candidate], result: dict[int, int]
) -> tuple[float, float]:
    """(priority weight served, weighted travel): the first as high, the second as low as possible."""
    by_scene, by_unit = dict(scenes), {u.unit_id: u for u in units}
    assert len(set(result.values())) == len(result), "a unit was assigned twice"
    costs = [cost(by_scene[i], by_unit[u]) for i, u in result.items()]
    assert all(c is not None for c in costs), "an infeasible pair was assigned"
    return sum(weight(by_scene[i]) for i in result), sum(c for c in costs if c is not None)


def greedy(scenes: list[tuple[int, Scene]], units: list[Candidate]) -> dict[int, int]:
    """First come, first served: each incident in arrival order takes its cheapest unit still free."""
    taken: dict[int, int] = {}
    for incident, s in scenes:
        options = [
            (c, u.unit_id) for u in units if u.unit_id not in taken.values() if (c := cost(s, u)) is not None
        ]
        if options:
            taken[incident] = min(options)[1]
    return taken


@given(surges())
def test_joint_never_worse_than_first_come_first_served(
    surge: tuple[list[tuple[int, Scene]], list[Candidate]],
) -> None:
    """Joint assignment serves as many incidents and as much priority, at no more weighted travel if equal."""
    scenes, units = surge
    joint, first_come = assign_jointly(scenes, units, TRAVEL), greedy(scenes, units)
    (served, travel), (served_greedy, travel_greedy) = (
        score(scenes, units, joint),
        score(scenes, units, first_come),
    )
    assert len(joint) >= len(first_come)
    assert served >= served_greedy
    if served == served_greedy:
        assert travel <= travel_greedy * (1 + 1e-9) + 1e-6


@settings(max_examples=150)
@given(surges())
def test_joint_matches_brute_force_optimum(surge: tuple[list[tuple[int, Scene]], list[Candidate]]) -> None:
    """No hand assignment does better: most priority served, then least weighted travel (exhaustive check)."""
    scenes, units = surge
    best = (0.0, 0.0, 0)  # (weight served, -weighted travel, served): bigger is better
    slots: list[Candidate | None] = [*units, *([None] * len(scenes))]
    for chosen in itertools.permutations(slots, len(scenes)):
        pairs = [(s, u) for (_, s), u in zip(scenes, chosen, strict=True) if u is not None]
        costs = [cost(s, u) for s, u in pairs]
        if all(c is not None for c in costs):
            served = sum(weight(s) for s, _ in pairs)
            best = max(best, (served, -sum(c for c in costs if c is not None), len(pairs)))
    joint = assign_jointly(scenes, units, TRAVEL)
    served, travel = score(scenes, units, joint)
    assert (served, len(joint)) == (best[0], best[2])
    assert travel == pytest.approx(-best[1], rel=1e-9, abs=1e-6)

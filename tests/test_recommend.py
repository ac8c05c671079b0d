"""Which units the dispatcher is told to send: reasons, shortfalls, and properties over random rosters."""

from __future__ import annotations

import itertools
import math
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.catalogue import PlanItem
from core.geo import EARTH_RADIUS_M, haversine_m
from dispatch.recommend import (
    Candidate,
    Policy,
    Reason,
    Recommendation,
    Scene,
    ShortfallCode,
    recommend,
)
from dispatch.travel import StraightLineTravel

SCENE = Scene(30.0, 120.0, priority=1, zone="A")
# 36 km/h is 10 m/s and circuity 1: travel seconds are metres / 10, easy to read in the examples.
TRAVEL = StraightLineTravel({"car": 36.0, "moto": 36.0, "engine": 36.0, "foot": 5.0}, circuity=1.0)
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
POLICY = Policy()


def unit(
    uid: int,
    north_m: float,
    kind: str = "car",
    tier: int = 1,
    *,
    east_m: float = 0.0,
    age: float = 0.0,
    available: bool = True,
    zone: str | None = "A",
    caps: tuple[str, ...] = (),
) -> Candidate:
    lat = SCENE.lat + north_m / M_PER_DEG
    lon = SCENE.lon + east_m / (M_PER_DEG * math.cos(math.radians(SCENE.lat)))
    return Candidate(uid, kind, tier, lat, lon, age, 300.0, available, zone, frozenset(caps))


def item(*kinds: str, count: int = 1, tiers: tuple[int, ...] = (1,), caps: tuple[str, ...] = ()) -> PlanItem:
    return PlanItem(kinds, count, tiers, caps)


def rec(plan: list[PlanItem], units: list[Candidate], policy: Policy = POLICY) -> Recommendation:
    return recommend(SCENE, plan, units, TRAVEL, policy)


def test_nearest_unit_is_picked_with_its_estimate() -> None:
    """The nearest free car goes, with its travel time and distance; the other is offered as an override."""
    r = rec([item("car")], [unit(1, 1000), unit(2, 500)])
    (pick,) = r.picks
    assert (pick.unit_id, pick.reasons, pick.requirement) == (2, (Reason.NEAREST,), 0)
    assert pick.travel_s == pytest.approx(50.0, abs=0.01)
    assert pick.distance_m == pytest.approx(500.0, abs=0.5)
    assert [a.unit_id for a in r.alternatives] == [1]
    assert r.shortfalls == ()


def test_overlapping_requirements_are_both_filled() -> None:
    """A car-or-motorcycle line does not take the only car that the car-only line needs."""
    r = rec([item("car", "moto"), item("car")], [unit(1, 500, "car"), unit(2, 1000, "moto")])
    assert {(p.requirement, p.unit_id) for p in r.picks} == {(0, 2), (1, 1)}
    first = next(p for p in r.picks if p.requirement == 0)
    assert first.reasons == (Reason.NEARER_NEEDED_ELSEWHERE, Reason.ONLY_ONE_OF_KIND)
    assert r.shortfalls == ()


def test_last_unit_of_a_kind_is_flagged() -> None:
    """Sending the only free engine is flagged: nothing of that kind would be left in reserve."""
    alone = rec([item("engine")], [unit(1, 800, "engine"), unit(2, 100, "engine", available=False)])
    assert alone.picks[0].reasons == (Reason.NEAREST, Reason.ONLY_ONE_OF_KIND)
    two = rec([item("engine")], [unit(1, 800, "engine"), unit(2, 900, "engine")])
    assert Reason.ONLY_ONE_OF_KIND not in two.picks[0].reasons


def test_next_tier_only_when_first_tier_is_short() -> None:
    """A far police car goes before a near grid worker; the grid worker goes when no police car is free."""
    plan = [item("car", tiers=(1, 2))]
    far_police, near_helper = unit(1, 5000, tier=1), unit(2, 100, tier=2)
    assert [p.unit_id for p in rec(plan, [far_police, near_helper]).picks] == [1]
    busy = unit(1, 5000, tier=1, available=False)
    (pick,) = rec(plan, [busy, near_helper]).picks
    assert (pick.unit_id, pick.reasons) == (2, (Reason.NEAREST, Reason.NEXT_TIER, Reason.ONLY_ONE_OF_KIND))


def test_faster_unit_from_neighbouring_zone_helps_across_the_border() -> None:
    """A nearer unit from the neighbouring zone is sent and marked as cross-border help."""
    r = rec([item("car")], [unit(1, 2000, zone="A"), unit(2, 500, zone="B")])
    assert r.picks[0].unit_id == 2
    assert r.picks[0].reasons == (Reason.NEAREST, Reason.OUTSIDE_HOME_ZONE)


def test_equally_near_home_zone_unit_is_preferred() -> None:
    """When two units are as near, the incident's own zone keeps the job even with a higher unit id."""
    r = rec([item("car")], [unit(1, 500, zone="B"), unit(2, 500, zone="A")])
    assert r.picks[0].unit_id == 2


def test_stale_position_costs_a_penalty() -> None:
    """A stale fix counts extra travel time: it loses to a fresh farther unit unless it is much nearer."""
    loses = rec([item("car")], [unit(1, 500, age=400), unit(2, 1500)])
    assert loses.picks[0].unit_id == 2
    (alt,) = loses.alternatives
    assert alt.unit_id == 1 and alt.reasons == (Reason.STALE_PENALISED,)
    assert alt.travel_s == pytest.approx(50.0 + POLICY.stale_penalty_s, abs=0.01)
    wins = rec([item("car")], [unit(1, 100, age=400), unit(2, 1500)])
    assert wins.picks[0].unit_id == 1 and Reason.STALE_PENALISED in wins.picks[0].reasons


def test_required_capability_is_respected() -> None:
    """An engine without a ladder is not sent where the plan asks for a ladder."""
    plan = [item("engine", caps=("ladder",))]
    r = rec(plan, [unit(1, 100, "engine"), unit(2, 900, "engine", caps=("ladder", "foam"))])
    assert [(p.unit_id, p.reasons) for p in r.picks] == [(2, (Reason.NEAREST, Reason.HAS_CAPABILITIES))]
    assert r.alternatives == ()


def test_busy_very_stale_and_distant_units_are_never_listed() -> None:
    """Busy units, units lost for too long and units beyond the maximum distance are never offered."""
    units = [unit(1, 100, available=False), unit(2, 200, age=1000), unit(3, 31_000), unit(4, 9000)]
    r = rec([item("car")], units)
    assert [p.unit_id for p in r.picks] == [4]
    assert r.alternatives == ()


def test_ties_go_to_the_lower_unit_id() -> None:
    """Two identical cars at one spot: the lower unit id is picked, every time."""
    r = rec([item("car")], [unit(7, 500), unit(3, 500)])
    assert r.picks[0].unit_id == 3


def test_alternatives_are_capped_per_requirement() -> None:
    """An override list shows a few ranked units per requirement, not the whole roster."""
    units = [unit(i, 100.0 * i) for i in range(1, 20)]
    r = rec([item("car")], units, Policy(max_alternatives=3))
    assert [a.unit_id for a in r.alternatives] == [2, 3, 4]


def test_duplicate_unit_ids_are_refused() -> None:
    """One unit listed twice is a caller bug that could send it twice, so it is refused."""
    with pytest.raises(ValueError, match="duplicate"):
        rec([item("car")], [unit(1, 100), unit(1, 200)])


@pytest.mark.parametrize(
    ("plan", "units", "code", "missing"),
    [
        ([item("engine")], [unit(1, 100, "car")], ShortfallCode.NO_UNIT_OF_KIND, 1),
        ([item("car", count=3)], [unit(1, 100)], ShortfallCode.NO_UNIT_OF_KIND, 2),
        ([item("engine")], [unit(1, 100, "engine", available=False)], ShortfallCode.ALL_BUSY, 1),
        ([item("engine", caps=("ladder",))], [unit(1, 100, "engine")], ShortfallCode.NO_CAPABLE_UNIT, 1),
        ([item("car", tiers=(1,))], [unit(1, 100, tier=2)], ShortfallCode.TIERS_EXHAUSTED, 1),
        ([item("car")], [unit(1, 100, age=1000)], ShortfallCode.ONLY_STALE, 1),
        ([item("car")], [unit(1, 40_000)], ShortfallCode.NONE_WITHIN_MAX_DISTANCE, 1),
        ([item("car"), item("car")], [unit(1, 100)], ShortfallCode.NEEDED_ELSEWHERE, 1),
    ],
)
def test_shortfall_says_why(
    plan: list[PlanItem], units: list[Candidate], code: ShortfallCode, missing: int
) -> None:
    """An unfillable requirement reports how many are missing and the most telling reason."""
    (shortfall,) = rec(plan, units).shortfalls
    assert (shortfall.requirement, shortfall.code, shortfall.missing) == (len(plan) - 1, code, missing)
    assert shortfall.kinds == plan[-1].kinds


# --- properties over random rosters ---------------------------------------------------------------------

KINDS = ("car", "moto", "foot")
OFFSET_M = st.integers(-70, 70).map(lambda n: n * 500.0)  # a 500 m grid: equal distances happen often


@st.composite
def rosters(draw: st.DrawFn) -> list[Candidate]:
    """Up to seven units around the scene, some busy, stale, too stale, far, foreign or equipped."""
    return [
        unit(
            uid,
            draw(OFFSET_M),
            draw(st.sampled_from(KINDS)),
            draw(st.integers(1, 3)),
            east_m=draw(OFFSET_M),
            age=draw(st.sampled_from([0.0, 100.0, 400.0, 2000.0])),  # fresh, fresh, stale, too stale
            available=draw(st.sampled_from([True, True, False])),
            zone=draw(st.sampled_from(["A", "B", None])),
            caps=tuple(draw(st.frozensets(st.sampled_from("xy")))),
        )
        for uid in range(1, draw(st.integers(0, 7)) + 1)
    ]


@st.composite
def plans(draw: st.DrawFn) -> list[PlanItem]:
    """One to three requirements, overlapping in kinds, with tiers in any order."""
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = tuple(sorted(draw(st.frozensets(st.sampled_from(KINDS), min_size=1))))
        tiers = tuple(draw(st.permutations([1, 2, 3]))[: draw(st.integers(1, 3))])
        caps = tuple(draw(st.frozensets(st.sampled_from("xy"), max_size=1)))
        items.append(PlanItem(kinds, draw(st.integers(1, 2)), tiers, caps))
    return items


def eligible(c: Candidate, it: PlanItem) -> bool:
    """The rules restated independently of the implementation, for the oracles below."""
    too_old = c.fix_age_s > c.stale_after_s and c.fix_age_s > POLICY.exclude_stale_after_s
    near = haversine_m(c.lat, c.lon, SCENE.lat, SCENE.lon) <= POLICY.max_distance_m
    return (
        c.available
        and not too_old
        and near
        and c.kind in it.kinds
        and c.tier in it.tiers
        and c.capabilities >= set(it.capabilities)
    )


def travel_s(c: Candidate) -> float:
    penalty = POLICY.stale_penalty_s if c.fix_age_s > c.stale_after_s else 0.0
    return TRAVEL.seconds(c.kind, c.lat, c.lon, SCENE.lat, SCENE.lon) + penalty


@given(plans(), rosters())
def test_never_busy_never_twice(plan: list[PlanItem], units: list[Candidate]) -> None:
    """No busy unit is ever recommended, no unit is listed twice, and every place is picked or short."""
    r = rec(plan, units)
    by_id = {c.unit_id: c for c in units}
    listed = [p.unit_id for p in r.picks] + [a.unit_id for a in r.alternatives]
    assert len(listed) == len(set(listed))
    assert all(by_id[uid].available for uid in listed)
    for ranked in (*r.picks, *r.alternatives):
        assert eligible(by_id[ranked.unit_id], plan[ranked.requirement])
    assert len(r.picks) + sum(s.missing for s in r.shortfalls) == sum(it.count for it in plan)
    for req, it in enumerate(plan):
        assert sum(p.requirement == req for p in r.picks) <= it.count


@given(plans(), rosters())
def test_never_a_farther_unit_before_a_nearer_one(plan: list[PlanItem], units: list[Candidate]) -> None:
    """For one requirement, no unpicked unit of the same kind, tier and staleness is nearer than a pick."""
    r = rec(plan, units)
    picked = {p.unit_id for p in r.picks}
    by_id = {c.unit_id: c for c in units}
    for p in r.picks:
        mine = by_id[p.unit_id]
        for q in units:
            same = (q.kind, q.tier, q.fix_age_s > q.stale_after_s) == (
                mine.kind,
                mine.tier,
                mine.fix_age_s > 300,
            )
            if same and q.unit_id not in picked and eligible(q, plan[p.requirement]):
                assert travel_s(q) >= p.travel_s - 0.001
    for a, b in itertools.pairwise(r.picks):
        if a.requirement == b.requirement and a.tier == b.tier:
            assert a.travel_s <= b.travel_s


@settings(max_examples=150)
@given(plans(), rosters())
def test_plan_filled_whenever_possible(plan: list[PlanItem], units: list[Candidate]) -> None:
    """As many places are filled as any assignment could, with as few later-tier units as possible."""
    r = rec(plan, units)
    best = (0, 0, 0.0)  # (filled, -tier ranks summed, -travel summed): bigger is better
    for choice in itertools.product(range(-1, len(plan)), repeat=len(units)):
        if any(req >= 0 and not eligible(c, plan[req]) for c, req in zip(units, choice, strict=True)):
            continue
        if any(choice.count(req) > it.count for req, it in enumerate(plan)):
            continue
        used = [(c, plan[req]) for c, req in zip(units, choice, strict=True) if req >= 0]
        score = (
            len(used),
            -sum(it.tiers.index(c.tier) for c, it in used),
            -sum(travel_s(c) for c, _ in used),
        )
        best = max(best, score)
    ranks = sum(plan[p.requirement].tiers.index(p.tier) for p in r.picks)
    assert (len(r.picks), -ranks) == best[:2]
    assert sum(p.travel_s for p in r.picks) <= -best[2] + 0.001 * len(r.picks) + 1e-6


@given(plans(), rosters(), st.randoms(use_true_random=False))
def test_order_of_candidates_does_not_matter(
    plan: list[PlanItem], units: list[Candidate], rnd: Random
) -> None:
    """The same roster in another order gives the same recommendation: dispatch is reproducible."""
    shuffled = list(units)
    rnd.shuffle(shuffled)
    assert rec(plan, shuffled) == rec(plan, units)

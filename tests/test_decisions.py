"""The dispatcher's decisions after the recommendation, without servers (dispatch/decisions.py)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.catalogue import PlanItem
from alerts.incidents import IncidentStatus
from core.geo import EARTH_RADIUS_M
from dispatch.assignments import ACTIVE, REFUSED, AssignmentStatus, OnIncident
from dispatch.decisions import (
    DEFAULT_STALE_AFTER_S,
    Handling,
    Waiting,
    candidates_from_live,
    freed_unit_takes,
    handling,
    joint_offers,
    plan_lacks,
    replacement,
    waiting_status,
)
from dispatch.recommend import Candidate, Reason, Scene, recommend
from dispatch.travel import StraightLineTravel
from units.live import LiveUnit

KINDS = ("car", "moto", "engine")
TRAVEL = StraightLineTravel({"car": 36.0, "moto": 36.0, "engine": 36.0}, circuity=1.0)
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
ORIGIN = (30.0, 120.0)


def scene(north_m: float = 0.0, priority: int = 2) -> Scene:
    return Scene(ORIGIN[0] + north_m / M_PER_DEG, ORIGIN[1], priority)


def candidate(uid: int, north_m: float, kind: str = "car") -> Candidate:
    return Candidate(uid, kind, 1, ORIGIN[0] + north_m / M_PER_DEG, ORIGIN[1], 0.0, 300.0)


def live(uid: int, kind: str = "car", placed: bool = True, fix_at: float | None = 1000.0) -> LiveUnit:
    lat, lon = ORIGIN if placed else (None, None)
    return LiveUnit(uid, f"U{uid}", kind, 1, "available", None, frozenset(), lat, lon, fix_at, False)


plans = st.lists(
    st.builds(
        PlanItem,
        kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True).map(tuple),
        count=st.integers(1, 3),
    ),
    min_size=1, max_size=3,
)  # fmt: skip
on_incidents = st.lists(
    st.builds(OnIncident, unit_id=st.integers(1, 30), kind=st.sampled_from(KINDS),
              status=st.sampled_from(list(AssignmentStatus))),
    max_size=10, unique_by=lambda a: a.unit_id,
)  # fmt: skip


def test_what_an_alert_leads_to() -> None:
    assert handling(IncidentStatus.RECEIVED, opens_case=False) is Handling.DISPATCH
    assert handling(IncidentStatus.RECEIVED, opens_case=True) is Handling.CASE
    for status in set(IncidentStatus) - {IncidentStatus.RECEIVED}:
        assert handling(status, opens_case=True) is Handling.NOTHING  # a related call joined it
        assert handling(status, opens_case=False) is Handling.NOTHING
    assert waiting_status(auto_dispatch=True) is IncidentStatus.PENDING
    assert waiting_status(auto_dispatch=False) is IncidentStatus.AWAITING_CONFIRMATION


@given(plans, on_incidents)
def test_the_plan_lacks_what_active_units_do_not_fill(plan: list[PlanItem], on: list[OnIncident]) -> None:
    lacking = plan_lacks(plan, on)
    active = [a for a in on if a.status in ACTIVE]
    # never more places than the plan had, and each active unit of a planned kind fills at most one
    assert sum(i.count for i in lacking.plan) <= sum(i.count for i in plan)
    filled = sum(i.count for i in plan) - sum(i.count for i in lacking.plan)
    assert filled <= len(active)
    assert all(i.count > 0 for i in lacking.plan)
    # units on it or that refused it are never asked again; the others may be
    assert lacking.skip == {a.unit_id for a in on if a.status in ACTIVE | REFUSED}
    # with nobody active, nothing is filled
    if not active:
        assert lacking.plan == tuple(plan)


def test_an_active_unit_fills_the_first_place_of_its_kind() -> None:
    plan = [PlanItem(("car",), 1), PlanItem(("car", "moto"), 2)]
    a = AssignmentStatus
    on = [OnIncident(1, "car", a.ON_SCENE), OnIncident(2, "car", a.ACCEPTED),
          OnIncident(3, "moto", a.DECLINED), OnIncident(4, "car", a.CLEARED)]  # fmt: skip
    lacking = plan_lacks(plan, on)
    assert [(i.kinds, i.count) for i in lacking.plan] == [(("car", "moto"), 1)]
    assert lacking.skip == {1, 2, 3}  # the cleared unit may be asked again


@given(st.lists(st.tuples(st.integers(1, 50), st.booleans()), unique_by=lambda t: t[0], max_size=20),
       st.sets(st.integers(1, 50)), st.floats(0, 5000))  # fmt: skip
def test_live_units_become_candidates(units: list[tuple[int, bool]], exclude: set[int], now: float) -> None:
    found = candidates_from_live([live(u, placed=p) for u, p in units], {"car": 60.0}, now, exclude)
    expected = [u for u, placed in units if placed and u not in exclude]
    assert [c.unit_id for c in found] == expected  # in the order found, none lost, none added
    assert all(c.fix_age_s >= 0 and c.stale_after_s == 60.0 for c in found)


def test_a_kind_the_catalogue_does_not_know_still_goes_stale() -> None:
    (c,) = candidates_from_live([live(1, kind="hovercraft", fix_at=None)], {}, now=50.0)
    assert c.stale_after_s == DEFAULT_STALE_AFTER_S and c.fix_age_s == 50.0


# whole metres apart: travel times differ by at least 0.1 s, more than the ranking's millisecond rounding
@given(st.lists(st.integers(10, 20_000), min_size=2, max_size=12, unique=True), st.integers(1, 3))
def test_a_lost_pick_is_replaced_by_the_next_nearest_untried(distances: list[int], count: int) -> None:
    units = [candidate(i + 1, d) for i, d in enumerate(distances)]
    rec = recommend(scene(), [PlanItem(("car",), count)], units, TRAVEL)
    tried = {p.unit_id for p in rec.picks}
    by_distance = sorted(units, key=lambda c: abs(c.lat - ORIGIN[0]))
    untried = [c.unit_id for c in by_distance if c.unit_id not in tried]
    for lost in rec.picks:
        nxt = replacement(rec, lost, tried)
        if not untried:
            assert nxt is None
            break
        assert nxt is not None and nxt.unit_id == untried[0]  # the nearest of those not yet asked
        assert nxt.requirement == lost.requirement
        tried.add(nxt.unit_id)
        untried.pop(0)


waiting_lists = st.lists(
    st.builds(lambda i, d, p, k: Waiting(i, scene(d, p), (PlanItem((k,), 1),)),
              st.integers(1, 10_000), st.floats(-5000, 5000), st.integers(1, 4), st.sampled_from(KINDS)),
    max_size=8, unique_by=lambda w: w.incident_id,
)  # fmt: skip


@given(waiting_lists, st.sampled_from(KINDS), st.data())
def test_a_freed_unit_takes_the_first_waiting_incident_it_can_serve(
    waiting: list[Waiting], kind: str, data: st.DataObject
) -> None:
    me = candidate(99, 0.0, kind)
    refused = {(w.incident_id, 99) for w in waiting if data.draw(st.booleans())}
    taken = freed_unit_takes(me, waiting, refused, TRAVEL)
    servable = [w for w in waiting if (w.incident_id, 99) not in refused and kind in w.plan[0].kinds]
    if not servable:
        assert taken is None
    else:
        assert taken is not None
        incident_id, pick = taken
        assert incident_id == servable[0].incident_id  # the most urgent first: the order given
        assert pick.unit_id == 99


@given(waiting_lists, st.lists(st.tuples(st.floats(-8000, 8000), st.sampled_from(KINDS)), max_size=10),
       st.data())  # fmt: skip
def test_joint_offers_give_no_unit_twice_and_keep_refusals(
    waiting: list[Waiting], fleet: list[tuple[float, str]], data: st.DataObject
) -> None:
    units = [candidate(i + 1, d, k) for i, (d, k) in enumerate(fleet)]
    pairs = [(w.incident_id, u.unit_id) for w in waiting for u in units]
    refused = {p for p in pairs if data.draw(st.booleans())} if pairs else set()
    offers = joint_offers(waiting, units, refused, TRAVEL)
    unit_ids = [p.unit_id for _, p in offers]
    assert len(unit_ids) == len(set(unit_ids))  # no unit to two incidents
    assert len({i for i, _ in offers}) == len(offers)  # one unit per incident
    assert not {(i, p.unit_id) for i, p in offers} & refused
    kinds = {u.unit_id: u.kind for u in units}
    plan = {w.incident_id: w.plan[0] for w in waiting}
    assert all(kinds[p.unit_id] in plan[i].kinds for i, p in offers)
    assert all(Reason.JOINT_ASSIGNMENT in p.reasons for _, p in offers)
    order = [w.incident_id for w in waiting]
    assert [i for i, _ in offers] == sorted((i for i, _ in offers), key=order.index)  # most urgent first
    # as many incidents served as a matching allows: at least one when any unit suits any of them
    if any((w.incident_id, u.unit_id) not in refused and u.kind in w.plan[0].kinds
           for w in waiting for u in units):  # fmt: skip
        assert offers


# whole metres apart, as for the lost pick above: no tie after the ranking's millisecond rounding
@settings(max_examples=50)
@given(st.lists(st.integers(10, 9000), min_size=1, max_size=6, unique=True))
def test_joint_offers_of_one_incident_send_its_nearest_unit(distances: list[int]) -> None:
    units = [candidate(i + 1, d) for i, d in enumerate(distances)]
    w = Waiting(1, scene(), (PlanItem(("car",), 1),))
    ((incident_id, pick),) = joint_offers([w], units, set(), TRAVEL)
    assert incident_id == 1 and pick.unit_id == 1 + distances.index(min(distances))

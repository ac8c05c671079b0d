"""Every candidate ranked by road: on a generated city cut by a river and with a one-way street, the
unit nearest in a straight line is not sent over one nearer by road; a unit or a scene off the network
falls back to the straight line with its own reason; without roads the answer is today's."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.catalogue import PlanItem
from dispatch.recommend import Candidate, Reason, Recommendation, Scene, recommend
from dispatch.road_travel import RoadTravel
from dispatch.travel import StraightLineTravel
from roads.gridcity import GridCity
from roads.prepared import load_router
from roads.router import EmbeddedRouter
from units.kinds import load_kinds

# 12 x 12 crossings 100 m apart; a river between columns 5 and 6 bridged only at rows 0 and 11; row 6
# one-way eastwards
CITY = GridCity(12, 12, river_after_col=5, bridges={0, 11}, oneway_rows={6})
KINDS = load_kinds()
STRAIGHT = StraightLineTravel.from_kinds(KINDS.values())
PLAN = [PlanItem(("patrol_car",), 1)]


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRouter:
    path = CITY.write(tmp_path_factory.mktemp("city") / "city.osm.pbf")
    return load_router(path, ["emergency", "foot"]).router


def road_travel(router: EmbeddedRouter | None) -> RoadTravel:
    return RoadTravel({k: v.road_profile for k, v in KINDS.items()},
                      {k: v.speed_kmh for k, v in KINDS.items()}, STRAIGHT, router=router)  # fmt: skip


def car(unit_id: int, row: float, col: float) -> Candidate:
    lat, lon = CITY.point(row, col)
    return Candidate(unit_id, "patrol_car", 1, lat, lon, fix_age_s=1, stale_after_s=60)


def scene_at(row: float, col: float) -> Scene:
    lat, lon = CITY.point(row, col)
    return Scene(lat, lon, priority=1)


def pick(rec: Recommendation) -> tuple[int, tuple[Reason, ...]]:
    assert len(rec.picks) == 1
    return rec.picks[0].unit_id, rec.picks[0].reasons


def test_a_unit_across_the_river_is_not_sent_over_one_nearer_by_road(router: EmbeddedRouter) -> None:
    """100 m across the water (700 m round by the bridge, 100 m of it on a fast main road) loses to
    300 m along the same bank."""
    scene = scene_at(3, 6)
    units = [car(1, 3, 5), car(2, 3, 9)]
    assert pick(recommend(scene, PLAN, units, STRAIGHT))[0] == 1  # the straight line is fooled
    unit_id, reasons = pick(recommend(scene, PLAN, units, road_travel(router)))
    assert unit_id == 2
    assert reasons[0] is Reason.NEAREST_BY_ROAD
    alternative = recommend(scene, PLAN, units, road_travel(router)).alternatives[0]
    assert alternative.unit_id == 1 and alternative.travel_s > 1.5 * recommend(
        scene, PLAN, units, road_travel(router)).picks[0].travel_s  # fmt: skip


def test_a_unit_behind_a_one_way_loop_is_not_sent_over_one_nearer_by_road(router: EmbeddedRouter) -> None:
    """100 m past the scene on a one-way street means driving round the block; 110 m before it does not."""
    scene = scene_at(6, 8)
    units = [car(1, 6, 9), car(2, 6, 6.9)]
    assert pick(recommend(scene, PLAN, units, STRAIGHT))[0] == 1
    unit_id, reasons = pick(recommend(scene, PLAN, units, road_travel(router)))
    assert unit_id == 2 and reasons[0] is Reason.NEAREST_BY_ROAD


def test_an_unsnappable_unit_falls_back_to_the_straight_line_with_its_reason(router: EmbeddedRouter) -> None:
    """A unit 3 km out of town is still a candidate, estimated by the straight line and saying so."""
    scene = scene_at(3, 8)
    far = car(9, -30, 8)
    rec = recommend(scene, PLAN, [far], road_travel(router))
    unit_id, reasons = pick(rec)
    assert unit_id == 9
    assert Reason.UNIT_OFF_ROAD in reasons and Reason.NEAREST_BY_ROAD not in reasons
    straight = recommend(scene, PLAN, [far], STRAIGHT).picks[0]
    assert rec.picks[0].travel_s == straight.travel_s
    both = recommend(scene, PLAN, [far, car(2, 3, 3)], road_travel(router))
    assert pick(both)[0] == 2  # the one on the roads, by road, is nearer
    assert Reason.UNIT_OFF_ROAD in both.alternatives[0].reasons


def test_a_scene_off_the_network_falls_back_for_every_unit(router: EmbeddedRouter) -> None:
    scene = scene_at(3, 40)  # 2.8 km east of the last street
    rec = recommend(scene, PLAN, [car(1, 3, 5), car(2, 3, 9)], road_travel(router))
    assert pick(rec)[0] == 2
    for ranked in (*rec.picks, *rec.alternatives):
        assert Reason.SCENE_OFF_ROAD in ranked.reasons


def test_before_the_roads_are_loaded_the_answer_is_the_straight_line_one() -> None:
    scene = scene_at(3, 6)
    units = [car(1, 3, 5), car(2, 3, 9)]
    rec = recommend(scene, PLAN, units, road_travel(None))
    today = recommend(scene, PLAN, units, STRAIGHT)
    assert [(r.unit_id, r.travel_s) for r in rec.picks] == [(r.unit_id, r.travel_s) for r in today.picks]
    assert Reason.ROADS_NOT_LOADED in rec.picks[0].reasons
    assert today.picks[0].reasons == (Reason.NEAREST,)


def test_walkers_use_footpaths_at_their_own_pace(router: EmbeddedRouter, tmp_path: Path) -> None:
    """A foot patrol (5 km/h) and a grid worker on a bicycle (10 km/h) from the same corner: the same
    route, the cyclist in half the time."""
    travel = road_travel(router)
    a, b = CITY.point(3, 6), CITY.point(3, 9)
    walk = travel.many_to_one("foot_patrol", [a], *b)[0]
    ride = travel.many_to_one("grid_worker", [a], *b)[0]
    assert walk.by_road and ride.by_road
    assert walk.seconds == pytest.approx(300 / (5 / 3.6), rel=0.01)
    assert ride.seconds == pytest.approx(walk.seconds / 2)
    route = travel.route("patrol_car", a, b)
    assert route is not None and route.metres == pytest.approx(300, rel=0.01)
    assert route.geometry[0] == a and route.geometry[-1] == b and len(route.geometry) >= 4

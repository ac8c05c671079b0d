"""Distances and travel-time estimates behind the unit recommendation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.geo import EARTH_RADIUS_M, haversine_m
from dispatch.travel import StraightLineTravel, TravelModel
from units.kinds import UnitKind

lat = st.floats(min_value=-89.0, max_value=89.0)
lon = st.floats(min_value=-180.0, max_value=180.0)


def test_one_degree_of_latitude_is_about_111_km() -> None:
    """A degree north is the textbook 111.2 km, so map distances match what dispatchers know."""
    assert haversine_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(EARTH_RADIUS_M * math.pi / 180)
    assert haversine_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195, abs=1)


def test_known_city_pair_distance() -> None:
    """Beijing to Shanghai comes out near the published great-circle 1,067 km."""
    assert haversine_m(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1_067_000, rel=0.005)


def test_antipodes_are_half_the_circumference() -> None:
    """Opposite points do not fail on rounding: the distance is half a great circle."""
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M)


@given(lat, lon, lat, lon)
def test_distance_is_symmetric_and_non_negative(a: float, b: float, c: float, d: float) -> None:
    """Unit-to-scene and scene-to-unit distances agree and are never negative."""
    there = haversine_m(a, b, c, d)
    assert there >= 0
    assert there == pytest.approx(haversine_m(c, d, a, b), abs=1e-6)
    assert haversine_m(a, b, a, b) == 0


@given(lat, lon, lat, lon, lat, lon)
def test_distance_obeys_triangle_inequality(
    a: float, b: float, c: float, d: float, e: float, f: float
) -> None:
    """A detour through a third point is never shorter than going straight."""
    assert haversine_m(a, b, e, f) <= haversine_m(a, b, c, d) + haversine_m(c, d, e, f) + 1e-6


def test_straight_line_time_is_distance_times_circuity_over_speed() -> None:
    """A car at 36 km/h (10 m/s) needs 130 s for 1 km of straight line with 1.3 circuity."""
    model = StraightLineTravel({"patrol_car": 36.0})
    one_km_north = 1000 / (EARTH_RADIUS_M * math.pi / 180)
    assert model.seconds("patrol_car", 30.0, 120.0, 30.0 + one_km_north, 120.0) == pytest.approx(130.0)


def test_unknown_kind_travels_at_default_speed() -> None:
    """A kind missing from the speed table still gets an estimate instead of blocking dispatch."""
    model = StraightLineTravel({}, circuity=1.0, default_speed_kmh=18.0)
    one_km_north = 1000 / (EARTH_RADIUS_M * math.pi / 180)
    assert model.seconds("drone", 30.0, 120.0, 30.0 + one_km_north, 120.0) == pytest.approx(200.0)


def test_slower_kinds_take_longer() -> None:
    """Over the same distance a foot patrol is slower than a patrol car."""
    model = StraightLineTravel({"patrol_car": 40.0, "foot": 5.0})
    assert model.seconds("foot", 30.0, 120.0, 30.01, 120.0) > model.seconds(
        "patrol_car", 30.0, 120.0, 30.01, 120.0
    )


def test_built_from_kind_catalogue() -> None:
    """Speeds come from the unit-kind catalogue so the model follows the roster's data."""
    kind = UnitKind("ambulance", "救护车", "Ambulance", "medical", 1, 72.0, 140.0, 60)
    model = StraightLineTravel.from_kinds([kind], circuity=1.0)
    one_km_north = 1000 / (EARTH_RADIUS_M * math.pi / 180)
    assert model.seconds("ambulance", 30.0, 120.0, 30.0 + one_km_north, 120.0) == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("speeds", "circuity", "default"),
    [
        ({"car": 0.0}, 1.3, 30.0),
        ({"car": -5.0}, 1.3, 30.0),
        ({}, 0.9, 30.0),
        ({}, 1.3, math.nan),
        ({}, math.inf, 30.0),
    ],
)
def test_nonsense_configuration_is_refused(speeds: dict[str, float], circuity: float, default: float) -> None:
    """A zero, negative or non-finite speed, or circuity below 1, is refused when the model is built."""
    with pytest.raises(ValueError):
        StraightLineTravel(speeds, circuity, default)


def test_straight_line_model_satisfies_protocol() -> None:
    """The straight-line model plugs in wherever a road router would."""
    model: TravelModel = StraightLineTravel({"car": 30.0})
    assert model.seconds("car", 30.0, 120.0, 30.0, 120.0) == 0.0

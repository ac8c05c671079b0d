"""Coordinate conversion between WGS-84, GCJ-02 and BD-09.

Reference pairs: the Beijing point (39.915 N, 116.404 E) and its converted values are the example
published in the README/test of the widely used open-source ``coordtransform`` library (wandergis); the
Beijing railway station pair (GCJ-02 39.90245, 116.42703 / BD-09 39.90851, 116.43351) is the example in
the documentation of an R coordinate-conversion package, given to five decimals (~1 m).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.coords import CoordSystem, from_wgs84, in_mainland_box, to_wgs84

BEIJING = (39.915, 116.404)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine), plenty for sub-metre checks."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_wgs84_to_gcj02_matches_published_pair() -> None:
    """A WGS-84 point in Beijing converts to the published GCJ-02 value."""
    assert from_wgs84(*BEIJING, CoordSystem.GCJ02) == pytest.approx((39.91640428150164, 116.41024449916938))


def test_gcj02_to_wgs84_inverts_published_pair() -> None:
    """The published GCJ-02 value converts back to the original WGS-84 point to within a millimetre."""
    back = to_wgs84(39.91640428150164, 116.41024449916938, CoordSystem.GCJ02)
    assert metres(back, BEIJING) < 0.001


def test_gcj02_to_wgs84_close_to_published_one_step_value() -> None:
    """Converting GCJ-02 to WGS-84 agrees with the published one-step approximation to well under a metre."""
    got = to_wgs84(*BEIJING, CoordSystem.GCJ02)
    assert metres(got, (39.91359571849836, 116.39775550083061)) < 0.5


def test_gcj02_to_bd09_matches_published_pair() -> None:
    """A GCJ-02 point converts to the published BD-09 value (via its WGS-84 equivalent)."""
    wgs = to_wgs84(*BEIJING, CoordSystem.GCJ02)
    assert from_wgs84(*wgs, CoordSystem.BD09) == pytest.approx((39.92133699351021, 116.41036949371029))


def test_bd09_to_gcj02_for_beijing_railway_station() -> None:
    """Beijing railway station's documented BD-09 position converts to its documented GCJ-02 position."""
    wgs = to_wgs84(39.90851, 116.43351, CoordSystem.BD09)
    assert metres(from_wgs84(*wgs, CoordSystem.GCJ02), (39.90245, 116.42703)) < 1.5


def test_wgs84_is_identity() -> None:
    """WGS-84 in, WGS-84 out: nothing changes."""
    assert to_wgs84(*BEIJING, "wgs84") == BEIJING
    assert from_wgs84(*BEIJING, "wgs84") == BEIJING


@pytest.mark.parametrize(
    "point",
    [(51.5007, -0.1246), (40.6892, -74.0445), (-33.8568, 151.2153), (35.6812, 139.7671), (60.17, 24.94)],
)
def test_gcj02_is_wgs84_outside_china(point: tuple[float, float]) -> None:
    """Outside mainland China GCJ-02 and WGS-84 are the same coordinates, both ways."""
    assert not in_mainland_box(*point)
    assert from_wgs84(*point, CoordSystem.GCJ02) == point
    assert to_wgs84(*point, CoordSystem.GCJ02) == point


def test_gcj02_offset_is_a_few_hundred_metres_in_china() -> None:
    """Inside China the GCJ-02 offset is real (hundreds of metres), so mixing systems would misplace calls."""
    assert 100 < metres(from_wgs84(*BEIJING, CoordSystem.GCJ02), BEIJING) < 1000


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 116.0), (39.9, 181.0), (math.nan, 116.0), (39.9, math.inf)])
def test_out_of_range_coordinates_are_refused(lat: float, lon: float) -> None:
    """A latitude or longitude out of range (or not a number) is refused, not converted."""
    with pytest.raises(ValueError, match="itude"):
        to_wgs84(lat, lon, CoordSystem.GCJ02)


def test_unknown_system_is_refused() -> None:
    """A coordinate system name that is not wgs84, gcj02 or bd09 is refused."""
    with pytest.raises(ValueError, match="mercator"):
        from_wgs84(*BEIJING, "mercator")


china = st.tuples(
    st.floats(min_value=18.0, max_value=53.5, allow_nan=False),
    st.floats(min_value=73.5, max_value=135.0, allow_nan=False),
)


@settings(max_examples=300)
@given(china, st.sampled_from([CoordSystem.GCJ02, CoordSystem.BD09]))
def test_round_trip_from_wgs84_inside_china(point: tuple[float, float], system: CoordSystem) -> None:
    """WGS-84 -> GCJ-02/BD-09 -> WGS-84 returns to the same place within half a metre."""
    shifted = from_wgs84(*point, system)
    assert metres(to_wgs84(*shifted, system), point) < 0.5


@settings(max_examples=300)
@given(china, st.sampled_from([CoordSystem.GCJ02, CoordSystem.BD09]))
def test_round_trip_to_wgs84_inside_china(point: tuple[float, float], system: CoordSystem) -> None:
    """A map-app position converted to WGS-84 and back lands within half a metre of where it was."""
    wgs = to_wgs84(*point, system)
    assert metres(from_wgs84(*wgs, system), point) < 0.5


@given(
    st.floats(min_value=-89.0, max_value=89.0, allow_nan=False),
    st.floats(min_value=-179.0, max_value=60.0, allow_nan=False),
)
def test_gcj02_identity_west_of_china(lat: float, lon: float) -> None:
    """Anywhere west of the China box (Europe, Africa, the Americas) GCJ-02 conversion changes nothing."""
    assert to_wgs84(lat, lon, CoordSystem.GCJ02) == (lat, lon)
    assert from_wgs84(lat, lon, CoordSystem.GCJ02) == (lat, lon)

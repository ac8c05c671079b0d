"""Conversion between the coordinate systems that callers and map apps in China send.

- WGS-84: GPS receivers, AVL boxes; what the center stores and computes with.
- GCJ-02 ("Mars" coordinates): the legally mandated offset used by AMap (Gaode) and Tencent maps inside
  mainland China; equal to WGS-84 outside it.
- BD-09: Baidu's further offset applied on top of GCJ-02 (so outside China it is still offset from
  WGS-84, by the BD step alone).

Only the forward offsets are published as formulas; the inverse ones in circulation are a one-step
approximation that is off by one or two metres. A phone location taken from a map app should not land on
the wrong side of a street, so both inverses here iterate the forward transform until the error is far
below a centimetre.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

# Krasovsky 1940 ellipsoid, on which the GCJ-02 offset is defined.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 works with a scaled angle.
_X_PI = math.pi * 3000.0 / 180.0

# Tolerance and cap for the iterative inverses: 1e-10 degrees is ~0.01 mm; convergence takes 3-5 steps.
_EPS_DEG = 1e-10
_MAX_STEPS = 30


class CoordSystem(StrEnum):
    """Datum or map offset a latitude/longitude pair is expressed in."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def to_wgs84(lat: float, lon: float, system: CoordSystem | str) -> tuple[float, float]:
    """Convert ``(lat, lon)`` given in ``system`` to WGS-84; raises ``ValueError`` on bad input."""
    system = _check(lat, lon, system)
    if system is CoordSystem.WGS84:
        return lat, lon
    if system is CoordSystem.GCJ02:
        return _invert(_wgs_to_gcj, lat, lon)
    return _invert(_wgs_to_bd, lat, lon)


def from_wgs84(lat: float, lon: float, system: CoordSystem | str) -> tuple[float, float]:
    """Convert a WGS-84 ``(lat, lon)`` to ``system``, e.g. to draw it on an AMap or Baidu map."""
    system = _check(lat, lon, system)
    if system is CoordSystem.WGS84:
        return lat, lon
    if system is CoordSystem.GCJ02:
        return _wgs_to_gcj(lat, lon)
    return _wgs_to_bd(lat, lon)


def in_mainland_box(lat: float, lon: float) -> bool:
    """Whether the point is inside the rough mainland-China box where the GCJ-02 offset applies.

    This is the conventional rectangle used by the map vendors' own conversions; it also covers some
    neighbouring land and sea, which is what those vendors do too.
    """
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _check(lat: float, lon: float, system: CoordSystem | str) -> CoordSystem:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude must be within -90..90, got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude must be within -180..180, got {lon!r}")
    return CoordSystem(system)


def _wgs_to_gcj(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_box(lat, lon):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    rad_lat = math.radians(lat)
    w = 1.0 - _EE * math.sin(rad_lat) ** 2
    # metres-per-degree along the meridian and the parallel turn the offset (in metres-like units) to degrees
    d_lat = _lat_offset(x, y) * 180.0 / (_A * (1.0 - _EE) / (w * math.sqrt(w)) * math.pi)
    d_lon = _lon_offset(x, y) * 180.0 / (_A / math.sqrt(w) * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lon + d_lon


def _lat_offset(x: float, y: float) -> float:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    out += _ripple(x)
    out += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    out += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y / 30.0 * math.pi)) * 2.0 / 3.0
    return out


def _lon_offset(x: float, y: float) -> float:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    out += _ripple(x)
    out += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    out += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return out


def _ripple(x: float) -> float:
    return (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0


def _gcj_to_bd(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _wgs_to_bd(lat: float, lon: float) -> tuple[float, float]:
    return _gcj_to_bd(*_wgs_to_gcj(lat, lon))


def _invert(
    forward: Callable[[float, float], tuple[float, float]], lat: float, lon: float
) -> tuple[float, float]:
    """Solve ``forward(p) == (lat, lon)`` by fixed-point steps.

    The offsets vary slowly (their derivative is tiny), so subtracting the residual converges fast.
    """
    g_lat, g_lon = lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_MAX_STEPS):
        f_lat, f_lon = forward(w_lat, w_lon)
        r_lat, r_lon = f_lat - g_lat, f_lon - g_lon
        if abs(r_lat) < _EPS_DEG and abs(r_lon) < _EPS_DEG:
            break
        w_lat, w_lon = w_lat - r_lat, w_lon - r_lon
    return w_lat, w_lon

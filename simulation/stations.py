"""The replay's fleet: units of the kinds the county's calls need, one per station, stations placed where
calls come from (k-means over the call history outside the replayed window, so the fleet does not know
the future), and hospitals where the medical calls cluster."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.geo import EARTH_RADIUS_M
from simulation.calls import ReplayCall
from simulation.geo import Point
from simulation.roster import UnitSpec

# kind, share of the fleet, which calls place its stations, callsign letters. The shares follow the work
# in the county's calls (EMS 38 % of calls at about an hour each with transport, traffic 51 % at half an
# hour, fire 11 % with several units each).
SHARES: Sequence[tuple[str, float, tuple[str, ...], str]] = (
    ("ambulance", 0.40, ("EMS",), "AMB"),
    ("traffic_police", 0.38, ("Traffic",), "TP"),
    ("fire_engine", 0.10, ("Fire",), "ENG"),
    ("patrol_car", 0.04, ("EMS", "Fire", "Traffic"), "PC"),
    ("rescue_truck", 0.03, ("Fire",), "RES"),
    ("ladder_truck", 0.03, ("Fire",), "LAD"),
    ("hazmat_unit", 0.02, ("Fire",), "HAZ"),
)


# police calls for service (Baltimore): patrol cars, placed where the calls come from
POLICE_SHARES: Sequence[tuple[str, float, tuple[str, ...], str]] = (("patrol_car", 1.0, ("BPD",), "PC"),)


def fleet_sizes(
    total: int, shares: Sequence[tuple[str, float, tuple[str, ...], str]] = SHARES
) -> dict[str, int]:
    """Units per kind for a fleet of ``total``: by share (largest remainder), each kind at least one
    when there are enough units."""
    if total < 1:
        raise ValueError("a fleet needs at least one unit")
    floor = 1 if total >= len(shares) else 0
    want = {kind: total * share for kind, share, _, _ in shares}
    sizes = {kind: max(floor, int(w)) for kind, w in want.items()}
    while sum(sizes.values()) < total:  # the largest shortfall from its share first
        sizes[max(want, key=lambda k: want[k] - sizes[k])] += 1
    while sum(sizes.values()) > total:  # the floor of one each overshot: the largest excess gives way
        sizes[max((k for k in want if sizes[k] > floor), key=lambda k: sizes[k] - want[k])] -= 1
    return {kind: n for kind, n in sizes.items() if n > 0}


_M_PER_DEGREE = math.radians(1.0) * EARTH_RADIUS_M


def _plane(points: Sequence[Point]) -> tuple[np.ndarray, float, float]:
    """Points as metres east and north of their mean (flat: fine over a county)."""
    lat0 = sum(p[0] for p in points) / len(points)
    lon0 = sum(p[1] for p in points) / len(points)
    east = _M_PER_DEGREE * math.cos(math.radians(lat0))
    xy = np.array([((p[1] - lon0) * east, (p[0] - lat0) * _M_PER_DEGREE) for p in points])
    return xy, lat0, lon0


def _unplane(xy: np.ndarray, lat0: float, lon0: float) -> list[Point]:
    east = _M_PER_DEGREE * math.cos(math.radians(lat0))
    return [(lat0 + float(y) / _M_PER_DEGREE, lon0 + float(x) / east) for x, y in xy.tolist()]


def kmeans(points: Sequence[Point], k: int, seed: int = 7, rounds: int = 40) -> list[Point]:
    """``k`` centres of the points (k-means++ start, then Lloyd's rounds); deterministic for a seed."""
    if not points:
        raise ValueError("no points to place stations on")
    xy, lat0, lon0 = _plane(points)
    rng = np.random.default_rng(seed)
    centres = [xy[int(rng.integers(len(xy)))]]
    for _ in range(1, k):
        d2 = np.min([((xy - c) ** 2).sum(axis=1) for c in centres], axis=0)
        pick = int(rng.integers(len(xy))) if d2.sum() == 0 else int(rng.choice(len(xy), p=d2 / d2.sum()))
        centres.append(xy[pick])
    c = np.array(centres, dtype=float)
    for _ in range(rounds):
        labels = np.argmin(((xy[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
        moved = np.array([xy[labels == j].mean(axis=0) if (labels == j).any() else c[j] for j in range(k)])
        if np.allclose(moved, c):
            break
        c = moved
    return _unplane(c, lat0, lon0)


def replay_fleet(
    history: Sequence[ReplayCall], total: int, prefix: str
) -> tuple[list[UnitSpec], list[Point]]:
    """The fleet's units (callsigns start with ``prefix``) and the hospitals."""
    specs: list[UnitSpec] = []
    shares = POLICE_SHARES if {c.agency for c in history} == {"BPD"} else SHARES
    sizes = fleet_sizes(total, shares)
    for kind, _, agencies, letters in shares:
        count = sizes.get(kind, 0)
        if not count:
            continue
        demand = [(c.lat, c.lon) for c in history if c.agency in agencies] or [
            (c.lat, c.lon) for c in history
        ]
        for n, base in enumerate(kmeans(demand, count), start=1):
            specs.append(UnitSpec(f"{prefix}-{letters}{n:02d}", kind, None, base, base, crew=2))
    medical = [(c.lat, c.lon) for c in history if c.agency == "EMS"] or [(c.lat, c.lon) for c in history]
    hospitals = kmeans(medical, max(2, sizes.get("ambulance", 0) // 4), seed=11)
    return specs, hospitals

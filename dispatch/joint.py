"""Surge assignment: several incidents waiting at once get units jointly, not first come first served.

Greedy in arrival order can send the one nearby unit to a minor incident that happened to arrive first and
leave a later, urgent one waiting for a unit from across the city. Minimising the total priority-weighted
travel time over all waiting incidents avoids that.

One unit per incident: this decides the first unit of each incident's plan, the one that must move now.
The rest of each plan is filled afterwards by ``recommend`` from the units left. Tiers here only say which
units are allowed; they are not ranked, since in a surge the faster allowed unit should go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from types import MappingProxyType

import numpy as np

# scipy ships no type information and the project does not install scipy-stubs.
from scipy.optimize import linear_sum_assignment

from alerts.catalogue import PlanItem
from core.geo import haversine_m
from dispatch.recommend import DEFAULT_POLICY, Candidate, Policy, Scene, is_suitable, is_usable
from dispatch.travel import TravelModel

# Priority 1 (most urgent) counts eight times priority 4: a minute lost there weighs eight minutes here.
DEFAULT_WEIGHTS: Mapping[int, float] = MappingProxyType({1: 8.0, 2: 4.0, 3: 2.0, 4: 1.0})
# A priority missing from the weights counts like the least urgent one listed by default.
UNLISTED_WEIGHT = 1.0


def assign_jointly(
    scenes: Sequence[tuple[int, Scene]],
    units: Sequence[Candidate],
    travel: TravelModel,
    weights: Mapping[int, float] = DEFAULT_WEIGHTS,
    *,
    requirements: Mapping[int, PlanItem] | None = None,
    policy: Policy = DEFAULT_POLICY,
    forbidden: Set[tuple[int, int]] = frozenset(),
) -> dict[int, int]:
    """incident id -> unit id, at most one unit per incident and one incident per unit.

    Leaving an incident waiting costs its weight times a "miss" longer than any trip could take, so the
    urgent incidents are served first and as many as possible are served; among such assignments, the
    least total of weight times travel time. With whole-number weights (the defaults) that order is exact.
    ``requirements`` (incident id -> first item of its plan) limits which units suit which incident; an
    incident without one takes any usable unit. ``forbidden`` (incident id, unit id) pairs are never made
    (a unit that declined an incident). Incidents left without a unit are absent from the result.
    """
    incident_ids = [incident for incident, _ in scenes]
    if len(set(incident_ids)) != len(incident_ids):
        raise ValueError("an incident id appears twice")
    if len({u.unit_id for u in units}) != len(units):
        raise ValueError("a unit id appears twice")
    pool = sorted((u for u in units if is_usable(u, policy)), key=lambda u: u.unit_id)
    if not scenes or not pool:
        return {}
    weight = np.array([weights.get(s.priority, UNLISTED_WEIGHT) for _, s in scenes], dtype=float)
    if not (np.isfinite(weight).all() and (weight > 0).all()):
        raise ValueError("priority weights must be finite and positive")
    seconds = np.full((len(scenes), len(pool)), np.inf)
    for row, (incident, scene) in enumerate(scenes):
        item = requirements.get(incident) if requirements is not None else None
        for col, unit in enumerate(pool):
            estimate = _travel_s(unit, scene, travel, policy)
            allowed = (incident, unit.unit_id) not in forbidden
            if estimate is not None and allowed and (item is None or is_suitable(unit, item)):
                seconds[row, col] = estimate
    feasible = np.isfinite(seconds)
    if not feasible.any():
        return {}
    # Serving one more unit of weight must beat any reshuffle of the others' weighted travel.
    miss_s = 1.0 + len(scenes) * float(seconds[feasible].max()) * float(weight.max() / weight.min())
    # One "wait" column per incident, so every incident can always be left waiting (never infeasible).
    waits = np.repeat((weight * miss_s)[:, np.newaxis], len(scenes), axis=1)
    rows, cols = linear_sum_assignment(np.hstack([weight[:, np.newaxis] * seconds, waits]))
    return {
        incident_ids[r]: pool[c].unit_id
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        if c < len(pool) and feasible[r, c]
    }


def _travel_s(unit: Candidate, scene: Scene, travel: TravelModel, policy: Policy) -> float | None:
    """Seconds to the scene with any stale penalty, or None beyond the maximum distance."""
    if haversine_m(unit.lat, unit.lon, scene.lat, scene.lon) > policy.max_distance_m:
        return None
    seconds = travel.seconds(unit.kind, unit.lat, unit.lon, scene.lat, scene.lon)
    if unit.fix_age_s > unit.stale_after_s:
        seconds += policy.stale_penalty_s
    return seconds

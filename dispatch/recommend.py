"""Which units to send to one incident: its response plan filled by tier, capability and travel time.

A pure function of the scene, the plan, the candidates, a travel model and a policy, so it is tested
on its own and the web API can show the same answer the dispatcher process acts on.

The plan is filled as one small assignment problem rather than item by item, so a greedy choice for one
requirement never starves another that overlaps it in kinds. The objective, in order: fill as many
places as possible; use earlier tiers of each requirement before later ones; least total travel time;
prefer units from the incident's own zone; lower unit id. Every place in the order is exact (integer
milliseconds), so equal inputs always give equal answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from alerts.catalogue import PlanItem
from core.geo import haversine_m
from dispatch.travel import TravelModel
from roads.router import Route


class Reason(StrEnum):
    """Why a unit is on the list: shown to the dispatcher beside each pick and alternative."""

    NEAREST = "nearest_by_travel_time"
    # nearest by travel time on the road network (the straight line when no roads are configured)
    NEAREST_BY_ROAD = "nearest_by_road"
    # roads are configured but this unit was estimated by the straight line: why
    UNIT_OFF_ROAD = "straight_line_unit_off_road"
    SCENE_OFF_ROAD = "straight_line_scene_off_road"
    NO_ROAD_BETWEEN = "straight_line_no_road_between"
    ROADS_NOT_LOADED = "straight_line_roads_not_loaded"
    # a nearer unit of the same tier went to another requirement of the plan so that both are filled
    NEARER_NEEDED_ELSEWHERE = "nearer_unit_needed_for_another_requirement"
    NEXT_TIER = "next_tier_tier_short"
    HAS_CAPABILITIES = "has_required_capabilities"
    OUTSIDE_HOME_ZONE = "outside_home_zone"
    STALE_PENALISED = "stale_position_penalised"
    # no other available unit of this kind has a usable position: sending it leaves none in reserve
    ONLY_ONE_OF_KIND = "only_one_of_its_kind_left"
    # never produced here: recorded when a dispatcher sends a unit of their own choosing (an override)
    DISPATCHER_CHOICE = "dispatcher_choice"
    # never produced here: chosen with other waiting incidents for the least weighted travel in total
    JOINT_ASSIGNMENT = "joint_assignment_in_surge"


class ShortfallCode(StrEnum):
    """Why a requirement is short, most telling first: the first filter that left too few units."""

    NO_UNIT_OF_KIND = "no_unit_of_kind"
    ALL_BUSY = "all_of_kind_busy"
    NO_CAPABLE_UNIT = "no_unit_with_capabilities"
    TIERS_EXHAUSTED = "all_tiers_exhausted"
    ONLY_STALE = "only_stale_positions"
    NONE_WITHIN_MAX_DISTANCE = "none_within_max_distance"
    NEEDED_ELSEWHERE = "needed_for_another_requirement"
    # never produced here: the dispatcher could not handle the incident at all (its handling failed
    # again and again); a dispatcher sends a unit by hand
    CANNOT_DISPATCH = "cannot_dispatch"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A unit as the dispatcher sees it now: where it was last fixed, how old that fix is."""

    unit_id: int
    kind: str
    tier: int
    lat: float
    lon: float
    fix_age_s: float
    stale_after_s: float
    available: bool = True
    zone: str | None = None
    capabilities: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Scene:
    """Where the incident is; ``priority`` (1 most urgent) weighs it in a joint assignment."""

    lat: float
    lon: float
    priority: int
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Tunable limits of the recommendation."""

    max_distance_m: float = 30_000
    # a stale fix may be well off: assume it costs this much extra travel
    stale_penalty_s: float = 120
    # a stale fix older than this says nothing useful about where the unit is: not a candidate at all
    exclude_stale_after_s: float = 900
    # alternatives listed per requirement for a dispatcher's override
    max_alternatives: int = 5


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Ranked:
    """One unit for one requirement (an index into the plan), with its estimate and reasons."""

    unit_id: int
    kind: str
    tier: int
    travel_s: float
    distance_m: float
    reasons: tuple[Reason, ...]
    requirement: int
    # the road route the estimate came from, where the travel model has one (see dispatch/routes.py)
    route: Route | None = None


@dataclass(frozen=True, slots=True)
class Shortfall:
    """``missing`` places of requirement ``requirement`` that no unit could fill, and why."""

    requirement: int
    kinds: tuple[str, ...]
    missing: int
    code: ShortfallCode


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Picks fill the plan; alternatives are other suitable units, ranked, for an override."""

    picks: tuple[Ranked, ...]
    shortfalls: tuple[Shortfall, ...]
    alternatives: tuple[Ranked, ...]


@dataclass(frozen=True, slots=True)
class _Option:
    """A usable candidate within reach, with its estimates."""

    unit: Candidate
    distance_m: float
    travel_s: float  # rounded to the millisecond, stale penalty included
    stale: bool
    outside: bool
    by_road: bool
    fallback: Reason | None


# (tier rank within the requirement, travel ms, outside home zone, unit id): smaller is better
_Key = tuple[int, int, int, int]


def recommend(
    scene: Scene,
    plan: Sequence[PlanItem],
    candidates: Iterable[Candidate],
    travel: TravelModel,
    policy: Policy = DEFAULT_POLICY,
) -> Recommendation:
    """Fill ``plan`` for ``scene`` from ``candidates``; raise ValueError if a unit id appears twice."""
    pool = _unique(candidates)
    usable = [c for c in pool if is_usable(c, policy)]
    wanted = {kind for item in plan for kind in item.kinds}
    options = _options(usable, wanted, scene, travel, policy)
    keys = [
        {uid: _key(item, o) for uid, o in options.items() if item.count > 0 and is_suitable(o.unit, item)}
        for item in plan
    ]
    chosen = _fill([max(item.count, 0) for item in plan], keys)
    usable_per_kind = Counter(c.kind for c in usable)

    def ranked(uid: int, req: int, lead: tuple[Reason, ...]) -> Ranked:
        o = options[uid]
        reasons = [Reason.NEAREST_BY_ROAD if r is Reason.NEAREST and o.by_road else r for r in lead]
        if o.fallback is not None:
            reasons.append(o.fallback)
        if keys[req][uid][0] > 0:
            reasons.append(Reason.NEXT_TIER)
        if plan[req].capabilities:
            reasons.append(Reason.HAS_CAPABILITIES)
        if o.outside:
            reasons.append(Reason.OUTSIDE_HOME_ZONE)
        if o.stale:
            reasons.append(Reason.STALE_PENALISED)
        if usable_per_kind[o.unit.kind] == 1:
            reasons.append(Reason.ONLY_ONE_OF_KIND)
        u = o.unit
        return Ranked(u.unit_id, u.kind, u.tier, o.travel_s, o.distance_m, tuple(reasons), req)

    picks = [
        ranked(uid, req, (_nearest_reason(uid, req, keys[req], chosen),))
        for uid, req in sorted(chosen.items(), key=lambda p: (p[1], keys[p[1]][p[0]]))
    ]
    shortfalls = []
    for req, item in enumerate(plan):
        missing = item.count - sum(1 for r in chosen.values() if r == req)
        if missing > 0:
            code = _shortfall_code(item, pool, scene, policy)
            shortfalls.append(Shortfall(req, item.kinds, missing, code))
    alternatives = [ranked(uid, req, ()) for uid, req in _alternatives(keys, chosen, policy)]
    return Recommendation(tuple(picks), tuple(shortfalls), tuple(alternatives))


def _unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates as a list; two entries for one unit would let it be picked twice."""
    pool = list(candidates)
    dupes = sorted(uid for uid, n in Counter(c.unit_id for c in pool).items() if n > 1)
    if dupes:
        raise ValueError(f"duplicate candidate unit ids: {dupes}")
    return pool


def _stale(c: Candidate) -> bool:
    return c.fix_age_s > c.stale_after_s


def _excluded(c: Candidate, policy: Policy) -> bool:
    return _stale(c) and c.fix_age_s > policy.exclude_stale_after_s


def _options(
    usable: Sequence[Candidate], wanted: set[str], scene: Scene, travel: TravelModel, policy: Policy
) -> dict[int, _Option]:
    """Estimates for the usable candidates of the wanted kinds within the maximum distance: one
    many-to-one travel query per kind, the form a road router answers fastest."""
    by_kind: dict[str, list[tuple[Candidate, float]]] = {}
    for c in usable:
        if c.kind in wanted:
            distance = haversine_m(c.lat, c.lon, scene.lat, scene.lon)
            if distance <= policy.max_distance_m:
                by_kind.setdefault(c.kind, []).append((c, distance))
    options: dict[int, _Option] = {}
    for kind, group in sorted(by_kind.items()):
        estimates = travel.many_to_one(kind, [(c.lat, c.lon) for c, _ in group], scene.lat, scene.lon)
        for (c, distance), estimate in zip(group, estimates, strict=True):
            stale = _stale(c)
            seconds = estimate.seconds + (policy.stale_penalty_s if stale else 0.0)
            outside = scene.zone is not None and c.zone is not None and c.zone != scene.zone
            fallback = Reason(estimate.fallback) if estimate.fallback is not None else None
            options[c.unit_id] = _Option(c, distance, round(seconds, 3), stale, outside, estimate.by_road,
                                         fallback)  # fmt: skip
    return options


def is_usable(c: Candidate, policy: Policy = DEFAULT_POLICY) -> bool:
    """Free now, and its last fix still says roughly where it is."""
    return c.available and not _excluded(c, policy)


def is_suitable(c: Candidate, item: PlanItem) -> bool:
    """Of a kind and tier the plan item accepts, with every capability it asks for."""
    return c.kind in item.kinds and c.tier in item.tiers and c.capabilities.issuperset(item.capabilities)


def _key(item: PlanItem, o: _Option) -> _Key:
    return (item.tiers.index(o.unit.tier), round(o.travel_s * 1000), int(o.outside), o.unit.unit_id)


def _nearest_reason(uid: int, req: int, keys: Mapping[int, _Key], chosen: Mapping[int, int]) -> Reason:
    """NEAREST unless a strictly nearer unit of the same tier was given to another requirement.

    An unpicked nearer unit of the same tier cannot exist: swapping it in would be a better fill.
    """
    rank, travel_ms = keys[uid][:2]
    for other, key in keys.items():
        if key[0] == rank and key[1] < travel_ms and chosen.get(other, req) != req:
            return Reason.NEARER_NEEDED_ELSEWHERE
    return Reason.NEAREST


def _alternatives(
    keys: Sequence[Mapping[int, _Key]], chosen: Mapping[int, int], policy: Policy
) -> list[tuple[int, int]]:
    """(unit, requirement) for unpicked suitable units, each under the requirement it suits best."""
    best: dict[int, tuple[_Key, int]] = {}
    for req, row in enumerate(keys):
        for uid, key in row.items():
            if uid not in chosen and (uid not in best or (key, req) < best[uid]):
                best[uid] = (key, req)
    ordered = sorted(best.items(), key=lambda b: (b[1][1], b[1][0]))
    listed = Counter[int]()
    result = []
    for uid, (_, req) in ordered:
        if listed[req] < policy.max_alternatives:
            listed[req] += 1
            result.append((uid, req))
    return result


def _shortfall_code(item: PlanItem, pool: Sequence[Candidate], scene: Scene, policy: Policy) -> ShortfallCode:
    """The first filter, in the order a dispatcher would ask about, that leaves fewer units than needed."""
    stages: list[tuple[ShortfallCode, Callable[[Candidate], bool]]] = [
        (ShortfallCode.NO_UNIT_OF_KIND, lambda c: c.kind in item.kinds),
        (ShortfallCode.ALL_BUSY, lambda c: c.available),
        (ShortfallCode.NO_CAPABLE_UNIT, lambda c: c.capabilities.issuperset(item.capabilities)),
        (ShortfallCode.TIERS_EXHAUSTED, lambda c: c.tier in item.tiers),
        (ShortfallCode.ONLY_STALE, lambda c: not _excluded(c, policy)),
        (
            ShortfallCode.NONE_WITHIN_MAX_DISTANCE,
            lambda c: haversine_m(c.lat, c.lon, scene.lat, scene.lon) <= policy.max_distance_m,
        ),
    ]
    survivors = list(pool)
    for code, keep in stages:
        survivors = [c for c in survivors if keep(c)]
        if len(survivors) < item.count:
            return code
    return ShortfallCode.NEEDED_ELSEWHERE


def _fill(counts: Sequence[int], keys: Sequence[Mapping[int, _Key]]) -> dict[int, int]:
    """unit id -> requirement: the most places filled, then the least keys summed place by place.

    Only each requirement's best ``sum(counts)`` units can matter (any other is always replaceable by
    a better, unused one), which keeps the problem tiny whatever the size of the roster.
    """
    places = sum(counts)
    if places == 0:
        return {}
    shortlist = [dict(sorted(row.items(), key=lambda kv: kv[1])[:places]) for row in keys]
    units = sorted({uid for row in shortlist for uid in row})
    index = {uid: i for i, uid in enumerate(units)}
    compact = [{uid: (*key[:3], index[uid]) for uid, key in row.items()} for row in shortlist]
    # Mixed radix wide enough that no component summed over all places carries into the next one:
    # comparing encoded sums is then comparing the component sums lexicographically, exactly.
    maxima = [max((k[j] for row in compact for k in row.values()), default=0) for j in range(4)]
    radices = [places * (m + 1) for m in maxima]

    def encode(key: tuple[int, ...]) -> int:
        value = 0
        for part, radix in zip(key, radices, strict=True):
            value = value * radix + part
        return value

    costs = [{uid: encode(key) for uid, key in row.items()} for row in compact]
    return _min_cost_max_fill(counts, costs)


def _min_cost_max_fill(counts: Sequence[int], costs: Sequence[Mapping[int, int]]) -> dict[int, int]:
    """Successive shortest augmenting paths (Bellman-Ford, as moving a unit has negative cost).

    Each augmentation fills one more place at least extra cost, possibly moving already assigned units
    between requirements; stopping when no path is left gives the cheapest of the fullest assignments.
    """
    assign: dict[int, int] = {}
    load = [0] * len(counts)
    while True:
        req_dist: list[int | None] = [0 if load[r] < counts[r] else None for r in range(len(counts))]
        req_pred: list[int | None] = [None] * len(counts)  # None: straight from the source
        unit_dist: dict[int, int] = {}
        unit_pred: dict[int, int] = {}
        changed = True
        while changed:
            changed = False
            for r, row in enumerate(costs):
                base = req_dist[r]
                if base is None:
                    continue
                for uid, cost in row.items():
                    if assign.get(uid) != r and (uid not in unit_dist or base + cost < unit_dist[uid]):
                        unit_dist[uid], unit_pred[uid] = base + cost, r
                        changed = True
            for uid, r in assign.items():
                if uid in unit_dist:
                    moved = unit_dist[uid] - costs[r][uid]
                    current = req_dist[r]
                    if current is None or moved < current:
                        req_dist[r], req_pred[r] = moved, uid
                        changed = True
        free = [uid for uid in unit_dist if uid not in assign]
        if not free:
            return assign
        uid = min(free, key=lambda u: (unit_dist[u], u))
        while True:
            r = unit_pred[uid]
            previous = req_pred[r]
            assign[uid] = r
            if previous is None:
                load[r] += 1
                break
            uid = previous

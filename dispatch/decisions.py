"""The dispatcher's decisions after the recommendation, as pure functions beside ``recommend.py``.

What an alert leads to, what an incident's plan still lacks, which live units are candidates, who
replaces a unit lost to another dispatcher, which waiting incident a freed unit takes, and the joint
offers of a surge. No I/O: the dispatcher, the lifecycle and the pending list read, call these, and
write; ``tests/test_decisions.py`` checks them with hypothesis, without servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from alerts.catalogue import PlanItem
from alerts.incidents import IncidentStatus
from core.geo import haversine_m
from dispatch.assignments import ACTIVE, REFUSED, OnIncident
from dispatch.joint import assign_jointly
from dispatch.recommend import Candidate, Ranked, Reason, Recommendation, Scene, recommend
from dispatch.travel import TravelModel
from units.live import LiveUnit

# a kind the catalogue does not know goes stale after this long
DEFAULT_STALE_AFTER_S = 120.0


class Handling(StrEnum):
    """What a queued alert leads to."""

    NOTHING = "nothing"  # its incident is being handled already (a related call joined it)
    CASE = "case"  # a non-emergency grid report: a case on the escalation ladder
    DISPATCH = "dispatch"


def handling(status: IncidentStatus, opens_case: bool) -> Handling:
    """An alert of an incident in ``status`` whose category ``opens_case`` or not. A grid report
    whose case exists already (it was unlinked from its incident) is dispatched like a call: the
    case book says so by opening nothing, and the dispatcher then serves it."""
    if status is not IncidentStatus.RECEIVED:
        return Handling.NOTHING
    return Handling.CASE if opens_case else Handling.DISPATCH


def waiting_status(auto_dispatch: bool) -> IncidentStatus:
    """Where an incident nobody was offered to waits: for a unit, or for a dispatcher's decision."""
    return IncidentStatus.PENDING if auto_dispatch else IncidentStatus.AWAITING_CONFIRMATION


def shortfall_json(rec: Recommendation) -> list[dict[str, Any]]:
    return [
        {"requirement": s.requirement, "kinds": list(s.kinds), "missing": s.missing, "code": s.code.value}
        for s in rec.shortfalls
    ]


@dataclass(frozen=True, slots=True)
class Lacking:
    """The plan less the units on the incident, and the units not to ask again (on it already, or
    they declined it or let its offer lapse)."""

    plan: tuple[PlanItem, ...]
    skip: frozenset[int]


def plan_lacks(plan: Sequence[PlanItem], on_incident: Iterable[OnIncident]) -> Lacking:
    """Each active unit fills the first requirement of its kind that still has a place."""
    counts = [item.count for item in plan]
    skip: set[int] = set()
    for a in on_incident:
        if a.status in ACTIVE:
            i = next((i for i, item in enumerate(plan) if a.kind in item.kinds and counts[i] > 0), None)
            if i is not None:
                counts[i] -= 1
        if a.status in ACTIVE | REFUSED:
            skip.add(a.unit_id)
    lacking = tuple(replace(item, count=n) for item, n in zip(plan, counts, strict=True) if n > 0)
    return Lacking(lacking, frozenset(skip))


def as_candidate(u: LiveUnit, stale_after_s: Mapping[str, float], now: float) -> Candidate | None:
    """A live unit as the recommendation sees it; None without a known position."""
    if u.lat is None or u.lon is None:
        return None
    return Candidate(
        unit_id=u.unit_id, kind=u.kind, tier=u.tier, lat=u.lat, lon=u.lon,
        fix_age_s=max(0.0, now - (u.fix_at or 0.0)),
        stale_after_s=stale_after_s.get(u.kind, DEFAULT_STALE_AFTER_S),
        available=True, zone=u.zone, capabilities=u.capabilities,
    )  # fmt: skip


def candidates_from_live(
    units: Iterable[LiveUnit], stale_after_s: Mapping[str, float], now: float, exclude: Set[int] = frozenset()
) -> list[Candidate]:
    """The units found near a scene, in the order found, less the excluded and the unplaced."""
    found = []
    for u in units:
        if u.unit_id not in exclude and (c := as_candidate(u, stale_after_s, now)) is not None:
            found.append(c)
    return found


def replacement(rec: Recommendation, lost: Ranked, tried: Set[int]) -> Ranked | None:
    """The next best unit for the requirement of a pick that another dispatcher claimed first: the
    first alternative listed for that requirement that has not been tried in this round."""
    return next(
        (a for a in rec.alternatives if a.requirement == lost.requirement and a.unit_id not in tried), None
    )


def chosen_by_dispatcher(u: LiveUnit, scene: Scene, travel: TravelModel) -> Ranked:
    """A unit a dispatcher names, with its estimate (zero where its position is unknown)."""
    travel_s = distance_m = 0.0
    route = None
    if u.lat is not None and u.lon is not None:
        travel_s = travel.seconds(u.kind, u.lat, u.lon, scene.lat, scene.lon)
        distance_m = haversine_m(u.lat, u.lon, scene.lat, scene.lon)
        route = travel.route(u.kind, (u.lat, u.lon), (scene.lat, scene.lon))
    return Ranked(u.unit_id, u.kind, u.tier, travel_s, distance_m, (Reason.DISPATCHER_CHOICE,), 0, route)


@dataclass(frozen=True, slots=True)
class Waiting:
    """An incident on the pending list, most urgent first in any sequence of them."""

    incident_id: int
    scene: Scene
    plan: tuple[PlanItem, ...]


def freed_unit_takes(
    unit: Candidate, waiting: Sequence[Waiting], refused: Set[tuple[int, int]], travel: TravelModel
) -> tuple[int, Ranked] | None:
    """The first waiting incident (in the order given: most urgent, then oldest) that the freed unit
    can serve and has not refused, with the unit's pick for it."""
    for w in waiting:
        if (w.incident_id, unit.unit_id) in refused:
            continue
        picks = recommend(w.scene, w.plan, [unit], travel).picks
        if picks:
            return w.incident_id, picks[0]
    return None


def joint_offers(
    waiting: Sequence[Waiting], units: Sequence[Candidate], refused: Set[tuple[int, int]],
    travel: TravelModel,
) -> list[tuple[int, Ranked]]:  # fmt: skip
    """Several incidents wait: one unit each for their first requirement, chosen together for the
    least priority-weighted travel in total; offered in the order of ``waiting`` (most urgent first)."""
    served = [w for w in waiting if w.plan]
    by_id = {u.unit_id: u for u in units}
    scenes = {w.incident_id: w.scene for w in served}
    chosen = assign_jointly(
        [(w.incident_id, w.scene) for w in served], list(by_id.values()), travel,
        requirements={w.incident_id: w.plan[0] for w in served}, forbidden=refused,
    )  # fmt: skip
    order = {w.incident_id: n for n, w in enumerate(served)}
    offers = []
    for incident_id, unit_id in sorted(chosen.items(), key=lambda kv: order[kv[0]]):
        u, scene = by_id[unit_id], scenes[incident_id]
        pick = Ranked(
            unit_id, u.kind, u.tier, travel.seconds(u.kind, u.lat, u.lon, scene.lat, scene.lon),
            haversine_m(u.lat, u.lon, scene.lat, scene.lon),
            (Reason.JOINT_ASSIGNMENT,), 0,
        )  # fmt: skip
        offers.append((incident_id, pick))
    return offers

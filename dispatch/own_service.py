"""A unit's own emergency: its plan sends the nearest units of the raising unit's agency, never the unit.

The catalogue's plan for such a category (``own_service``) says how many; which kinds follows the agency
of whoever pressed the button (a fire crew in trouble gets fire crews). Pure: the caller reads the
panicking units (``alerts/panic.py``) and hands them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from alerts.catalogue import Category, PlanItem
from units.kinds import UnitKind


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    """What to send to one incident, and the units that must never be sent to it."""

    items: tuple[PlanItem, ...]
    exclude: frozenset[int] = frozenset()


def plan_for(
    category: Category, raised_by: Iterable[tuple[int, str]], kinds: Mapping[str, UnitKind]
) -> IncidentPlan:
    """The plan of an incident of ``category``; ``raised_by``: (unit id, its kind) of each unit whose
    panic it is. A call of an own-service category (nobody raised it) keeps the catalogue's kinds."""
    raisers = list(raised_by)
    if not category.own_service or not raisers:
        return IncidentPlan(category.plan)
    agencies = {kinds[k].agency for _, k in raisers if k in kinds}
    own = tuple(sorted(code for code, kind in kinds.items() if kind.agency in agencies))
    items = tuple(replace(item, kinds=own) for item in category.plan) if own else category.plan
    return IncidentPlan(items, frozenset(unit_id for unit_id, _ in raisers))

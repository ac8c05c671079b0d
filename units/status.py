"""The unit status machine: one table of allowed transitions, and availability classes."""

from __future__ import annotations

from enum import StrEnum

from core import transitions


class UnitStatus(StrEnum):
    OFF_DUTY = "off_duty"
    AVAILABLE = "available"
    OFFERED = "offered"  # dispatched, not yet acknowledged
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


class Availability(StrEnum):
    AVAILABLE = "available"
    COMMITTED = "committed"
    UNAVAILABLE = "unavailable"


AVAILABILITY: dict[UnitStatus, Availability] = {
    UnitStatus.AVAILABLE: Availability.AVAILABLE,
    # a unit driving back to station can take a new call
    UnitStatus.RETURNING: Availability.AVAILABLE,
    UnitStatus.OFFERED: Availability.COMMITTED,
    UnitStatus.EN_ROUTE: Availability.COMMITTED,
    UnitStatus.ON_SCENE: Availability.COMMITTED,
    UnitStatus.TRANSPORTING: Availability.COMMITTED,
    UnitStatus.OFF_DUTY: Availability.UNAVAILABLE,
    UnitStatus.OUT_OF_SERVICE: Availability.UNAVAILABLE,
}

S = UnitStatus
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.OFF_DUTY: frozenset({S.AVAILABLE, S.OUT_OF_SERVICE}),
    S.AVAILABLE: frozenset({S.OFFERED, S.OFF_DUTY, S.OUT_OF_SERVICE}),
    S.OFFERED: frozenset({S.EN_ROUTE, S.AVAILABLE}),  # accepted; or declined, timed out, cancelled
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE}),  # arrived; or cancelled
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.RETURNING, S.AVAILABLE}),
    S.TRANSPORTING: frozenset({S.RETURNING, S.AVAILABLE}),
    S.RETURNING: frozenset({S.OFFERED, S.AVAILABLE, S.OFF_DUTY, S.OUT_OF_SERVICE}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE, S.OFF_DUTY}),
}

# statuses a unit may set for itself; the rest follow its assignments
SELF_REPORTABLE = frozenset({S.OFF_DUTY, S.AVAILABLE, S.TRANSPORTING, S.RETURNING, S.OUT_OF_SERVICE})


def check_transition(current: UnitStatus, wanted: UnitStatus) -> None:
    transitions.check("a unit", TRANSITIONS, current, wanted)


def dispatchable(status: UnitStatus) -> bool:
    """Whether a unit in this status belongs in the live index of units that can be sent."""
    return AVAILABILITY[status] is Availability.AVAILABLE

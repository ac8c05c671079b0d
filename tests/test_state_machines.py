"""The four state machines (unit, assignment, incident, case) agree with each other: every move one of
them makes implies only moves the others allow. Pure: no servers."""

from __future__ import annotations

from collections.abc import Mapping, Set
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.incidents import OPEN, UNSERVED
from alerts.incidents import TRANSITIONS as INCIDENT_TRANSITIONS
from alerts.incidents import IncidentStatus as I
from cases.status import TRANSITIONS as CASE_TRANSITIONS
from cases.status import CaseStatus
from core import transitions
from core.transitions import IllegalTransition
from dispatch.assignments import ACTIVE, UNIT_STATUS_AFTER, incident_status_for
from dispatch.assignments import TRANSITIONS as ASSIGNMENT_TRANSITIONS
from dispatch.assignments import AssignmentStatus as A
from units.status import TRANSITIONS as UNIT_TRANSITIONS
from units.status import UnitStatus as U

TABLES: list[tuple[type[StrEnum], Mapping[StrEnum, Set[StrEnum]]]] = [
    (U, UNIT_TRANSITIONS), (A, ASSIGNMENT_TRANSITIONS), (I, INCIDENT_TRANSITIONS),  # type: ignore[list-item]
    (CaseStatus, CASE_TRANSITIONS),  # type: ignore[list-item]
]  # fmt: skip


@pytest.mark.parametrize(("enum", "table"), TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_status_has_its_row_and_moves_only_to_statuses(enum: type[StrEnum], table: Mapping) -> None:  # type: ignore[type-arg]
    """Each table has one row per status, and names only statuses of its own machine."""
    assert set(table) == set(enum)
    assert all(set(targets) <= set(enum) for targets in table.values())


def test_every_assignment_step_implies_a_unit_move_the_unit_allows() -> None:
    """A step of an assignment moves its unit along an allowed edge, or leaves it where it is."""
    for current, steps in ASSIGNMENT_TRANSITIONS.items():
        for step in steps:
            before, after = UNIT_STATUS_AFTER[current], UNIT_STATUS_AFTER[step]
            assert before == after or after in UNIT_TRANSITIONS[before], (
                f"{current} -> {step}: {before} -> {after}"
            )


assignment_sets = st.lists(st.sampled_from(list(A)), max_size=6)


@given(assignment_sets, st.data())
def test_every_assignment_step_moves_the_incident_along_an_allowed_edge(
    others: list[A], data: st.DataObject
) -> None:
    """Whatever its other assignments, one assignment's step moves the incident as its table allows."""
    current = data.draw(st.sampled_from([s for s in A if ASSIGNMENT_TRANSITIONS[s]]))
    step = data.draw(st.sampled_from(sorted(ASSIGNMENT_TRANSITIONS[current])))
    before = incident_status_for([*others, current])
    after = incident_status_for([*others, step])
    assert after in INCIDENT_TRANSITIONS[before], f"{before} -> {after}"


@given(assignment_sets)
def test_the_incident_is_served_exactly_while_a_unit_is_on_it(states: list[A]) -> None:
    """Dispatched or on scene while an assignment is active; never one of those with none active."""
    status = incident_status_for(states)
    assert (status in {I.DISPATCHED, I.ON_SCENE}) == bool(set(states) & ACTIVE)


def test_an_offer_moves_any_unserved_incident_to_dispatched_and_waiting_back() -> None:
    """The dispatcher's moves: an offer from every unserved status; waiting from every unserved one."""
    for status in UNSERVED:
        assert I.DISPATCHED in INCIDENT_TRANSITIONS[status]
        assert I.PENDING in INCIDENT_TRANSITIONS[status]
        assert I.AWAITING_CONFIRMATION in INCIDENT_TRANSITIONS[status]
    assert all(I.CLOSED in INCIDENT_TRANSITIONS[s] for s in OPEN)
    assert INCIDENT_TRANSITIONS[I.CLOSED] == frozenset()


def test_one_refusal_for_every_machine() -> None:
    """The same conflict, with the allowed moves, whichever machine refuses."""
    with pytest.raises(IllegalTransition) as unit:
        transitions.check("a unit", UNIT_TRANSITIONS, U.OFF_DUTY, U.ON_SCENE)
    with pytest.raises(IllegalTransition) as incident:
        transitions.check("an incident", INCIDENT_TRANSITIONS, I.CLOSED, I.PENDING)
    assert unit.value.message == "a unit cannot go from off_duty to on_scene"
    assert unit.value.data["allowed"] == sorted(s.value for s in UNIT_TRANSITIONS[U.OFF_DUTY])
    assert incident.value.message == "an incident cannot go from closed to pending"
    assert incident.value.data["allowed"] == []

"""Grid cases, the pure part: the workflow's one transition table, the escalation ladder, where a grid cell
belongs, who may act at which level, and which deadline mark is due.

"Small matters do not leave the village, big matters do not leave the town": a case starts at the
community (village) level, and what is not resolved within its working-day limit goes up to the town,
then the county.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cases.workdays import WorkCalendar


class CaseStatus(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"  # to a grid worker, a community team or a department
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"  # by the reporter or a supervisor
    CLOSED = "closed"
    RETURNED = "returned"  # sent back to the reporter with a reason (not a matter for the grid)


S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.REPORTED: frozenset({S.ACCEPTED, S.RETURNED}),
    S.ACCEPTED: frozenset({S.ASSIGNED, S.RETURNED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.RETURNED}),  # assigned again: someone else
    S.IN_PROGRESS: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.VERIFIED, S.IN_PROGRESS}),  # verification failed: back to work
    S.VERIFIED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.RETURNED: frozenset(),
}
# the deadline runs while the case is being worked; a resolution stops it
RUNNING = frozenset({S.REPORTED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS})
ENDED = frozenset({S.CLOSED, S.RETURNED})


class Level(StrEnum):
    COMMUNITY = "community"  # village / residents' committee
    TOWN = "town"  # town / subdistrict
    COUNTY = "county"  # county / district: the top of the ladder


LADDER = (Level.COMMUNITY, Level.TOWN, Level.COUNTY)
DEFAULT_LIMIT_DAYS = (3, 7)  # community, town; the county has no further level to escalate to


def next_level(level: Level) -> Level | None:
    i = LADDER.index(level)
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


def limit_days(level: Level, category_limits: tuple[int, ...] | None) -> int | None:
    """Working days a level has for a case of this category; None at the county."""
    limits = category_limits or DEFAULT_LIMIT_DAYS
    i = LADDER.index(level)
    return limits[i] if i < len(limits) else None


def deadline_for(
    calendar: WorkCalendar, level: Level, started: datetime, category_limits: tuple[int, ...] | None
) -> datetime | None:
    days = limit_days(level, category_limits)
    return None if days is None else calendar.deadline(started, days)


class Mark(StrEnum):
    """Deadline marks, in the order they fall due."""

    REMINDER = "reminder"  # half the time is gone
    WARNING = "warning"  # four fifths are gone
    OVERDUE = "overdue"  # the deadline has passed: the case goes up a level


THRESHOLDS = ((Mark.REMINDER, 0.5), (Mark.WARNING, 0.8), (Mark.OVERDUE, 1.0))


def due_marks(progress: float, already: frozenset[Mark]) -> list[Mark]:
    """The marks reached at this progress and not yet given, in order."""
    return [mark for mark, at in THRESHOLDS if progress >= at and mark not in already]


@dataclass(frozen=True, slots=True)
class Place:
    """Where a case belongs on the ladder: its town and community, from the report's grid cell."""

    town: str
    community: str
    grid_cell: str | None


UNPLACED = "unassigned"


def place_of(grid_cell: str | None) -> Place:
    """Grid cells are named ``TOWN/COMMUNITY/CELL``; a report without one goes to an unassigned
    community of an unassigned town, where the county sees it."""
    parts = [p.strip() for p in (grid_cell or "").split("/") if p.strip()]
    town = parts[0] if parts else UNPLACED
    community = "/".join(parts[:2]) if len(parts) >= 2 else f"{town}/{UNPLACED}"
    return Place(town, community, grid_cell)


@dataclass(frozen=True, slots=True)
class Holder:
    """Someone who works cases: the level they sit at and the area they cover there (a community as
    ``TOWN/COMMUNITY``, a town, or for the county nothing: the whole county)."""

    level: Level
    area: str | None


def may_act(holder: Holder, level: Level, place: Place) -> bool:
    """Only people of the level that holds a case, for its area, act on it."""
    if holder.level is not level:
        return False
    if level is Level.COMMUNITY:
        return holder.area == place.community
    if level is Level.TOWN:
        return holder.area == place.town
    return True


def may_supervise(holder: Holder, level: Level, place: Place) -> bool:
    """Supervision (督办) comes from the level holding the case or one above it, over its area."""
    if LADDER.index(holder.level) < LADDER.index(level):
        return False
    if holder.level is Level.COMMUNITY:
        return holder.area == place.community
    if holder.level is Level.TOWN:
        return holder.area == place.town
    return True


def covers(holder: Holder, place: Place) -> bool:
    """Whether a place lies in someone's area (their community, their town, or the whole county)."""
    if holder.level is Level.COMMUNITY:
        return holder.area == place.community
    if holder.level is Level.TOWN:
        return holder.area == place.town
    return True

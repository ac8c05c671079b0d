"""The working-day calendar: weekends, public holidays and make-up working days, from data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.cases import Holder, Level, Mark, due_marks, may_act, may_supervise, place_of
from alerts.workdays import CalendarError, load_calendar

Z = ZoneInfo("Asia/Shanghai")
CAL = load_calendar()


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=Z)


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        (at(9, 16, 10), 0, at(9, 17)),  # Wednesday, same day: its midnight
        (at(9, 16, 10), 3, at(9, 21)),  # Thu, Fri, and Sunday the 20th, a make-up working day
        (at(9, 18, 10), 1, at(9, 21)),  # Friday + 1: the make-up Sunday
        (at(9, 24, 10), 1, at(9, 29)),  # Thursday + 1: Mid-Autumn 25-27 off, Monday the 28th
        (at(9, 30, 10), 1, at(10, 9)),  # National Day 1-7 off: Thursday the 8th
        (at(10, 3, 12), 0, at(10, 9)),  # arriving on a holiday, same day: the next working day
        (at(10, 9, 10), 1, at(10, 11)),  # Friday + 1: Saturday the 10th is a make-up working day
    ],
)
def test_deadlines_count_working_days(start: datetime, days: int, deadline: datetime) -> None:
    """N working days after a moment end at midnight after the Nth working day."""
    assert CAL.deadline(start, days) == deadline


def test_progress_counts_only_working_time() -> None:
    """A holiday in the middle does not use up a case's time."""
    start, deadline = at(9, 30, 12), at(10, 9)  # 12 h on the 30th, then the 8th: 36 working hours
    assert CAL.progress(start, deadline, at(10, 7, 23)) == pytest.approx(12 / 36)
    assert CAL.progress(start, deadline, at(10, 8, 6)) == pytest.approx(18 / 36)
    assert CAL.progress(start, deadline, at(10, 9, 1)) > 1


def test_marks_fall_due_in_order_once() -> None:
    """Reminder at half the time, warning at four fifths, overdue at the deadline; each once."""
    assert due_marks(0.49, frozenset()) == []
    assert due_marks(0.85, frozenset()) == [Mark.REMINDER, Mark.WARNING]
    assert due_marks(1.2, frozenset({Mark.REMINDER})) == [Mark.WARNING, Mark.OVERDUE]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[2026]\nholidays = ["2026-13-01"]', "[2026] holidays"),
        ('[2026]\nworkdays = ["2026-09-21"]', "[2026] workdays"),  # a Monday is no make-up day
        ('[2026]\nholidays = ["2027-01-01"]', "[2026] holidays"),
        ('[2026]\nrest = ["2026-01-01"]', "[2026] rest"),
        ('[2026]\nholidays = ["2026-09-20"]\nworkdays = ["2026-09-20"]', "2026-09-20"),
    ],
)
def test_a_malformed_calendar_names_the_year_and_field(text: str, names: str) -> None:
    """A bad calendar stops start-up with a message naming where the mistake is."""
    with pytest.raises(CalendarError, match=names.replace("[", r"\[").replace("]", r"\]")):
        load_calendar(text)


def test_only_the_level_holding_a_case_acts_on_it() -> None:
    """Community people act in their community, town people in their town; supervision from above."""
    place = place_of("T1/C1/cell-9")
    assert (place.town, place.community) == ("T1", "T1/C1")
    assert may_act(Holder(Level.COMMUNITY, "T1/C1"), Level.COMMUNITY, place)
    assert not may_act(Holder(Level.COMMUNITY, "T1/C2"), Level.COMMUNITY, place)
    assert not may_act(Holder(Level.TOWN, "T1"), Level.COMMUNITY, place)
    assert may_act(Holder(Level.TOWN, "T1"), Level.TOWN, place)
    assert not may_act(Holder(Level.TOWN, "T2"), Level.TOWN, place)
    assert may_supervise(Holder(Level.COUNTY, None), Level.TOWN, place)
    assert not may_supervise(Holder(Level.COMMUNITY, "T1/C1"), Level.TOWN, place)
    assert place_of(None).town == "unassigned"

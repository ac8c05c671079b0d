"""The working-day calendar: weekends, public holidays and make-up working days, from data."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.status import Holder, Level, Mark, due_marks, may_act, may_supervise, place_of
from cases.workdays import (
    MAX_WORKING_DAYS,
    CalendarError,
    SpanError,
    WorkCalendar,
    load_calendar,
    warn_missing_years,
)

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


def walked_seconds(cal: WorkCalendar, start: datetime, end: datetime) -> float:
    """Working seconds counted the slow way, day by day: what the bounded count must agree with."""
    total, cursor, end = 0.0, start.astimezone(cal.zone), end.astimezone(cal.zone)
    while cursor < end:
        piece_end = min(datetime.combine(cursor.date() + timedelta(days=1), time(), cal.zone), end)
        if cal.is_working(cursor.date()):
            total += (piece_end - cursor).total_seconds()
        cursor = piece_end
    return total


MOMENTS = st.datetimes(datetime(2024, 6, 1), datetime(2027, 6, 1), timezones=st.just(Z))


@settings(max_examples=300, deadline=None)
@given(MOMENTS, MOMENTS)
def test_working_time_is_counted_without_walking_the_days_and_agrees_with_walking(
    a: datetime, b: datetime
) -> None:
    """Whole weeks by arithmetic, holidays and make-up days by bisection: the same seconds as a walk."""
    start, end = min(a, b), max(a, b)
    assert CAL.working_seconds(start, end) == pytest.approx(walked_seconds(CAL, start, end), abs=1e-6)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(9, 16), datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14)))),
        (datetime(1, 1, 1, tzinfo=UTC), at(9, 16)),
        (datetime(2300, 1, 1, tzinfo=UTC), datetime(2300, 2, 1, tzinfo=UTC)),
    ],
)
def test_absurd_spans_are_refused_not_walked(start: datetime, end: datetime) -> None:
    """Years 1 and 9999, or a span of decades: SpanError at once (the check logs it and goes on)."""
    with pytest.raises(SpanError):
        CAL.working_seconds(start, end)
    with pytest.raises(SpanError):
        CAL.progress(start, end, at(9, 17))


def test_deadlines_are_bounded() -> None:
    """A limit of more than a year of working days, or a start near year 9999, is refused; a calendar of
    nothing but holidays ends the search instead of looping."""
    with pytest.raises(SpanError):
        CAL.deadline(at(9, 16), MAX_WORKING_DAYS + 1)
    with pytest.raises(SpanError):
        CAL.deadline(datetime(9999, 12, 30, tzinfo=UTC), 3)
    assert CAL.deadline(at(1, 5, 10), MAX_WORKING_DAYS) < datetime(2028, 1, 1, tzinfo=Z)
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(365 * 5))
    closed = WorkCalendar(every_day, frozenset(), Z, frozenset({2026}))
    with pytest.raises(SpanError):
        closed.deadline(at(1, 5), 1)


def test_years_without_holiday_data_are_reported() -> None:
    """2027 has no table yet: from mid-November it is reported missing, with the last day known."""
    assert CAL.coverage(at(6, 1)) == {"known_until": "2026-12-31", "missing_years": []}
    assert CAL.coverage(at(12, 3)) == {"known_until": "2026-12-31", "missing_years": [2027]}
    assert CAL.missing_years(date(2031, 3, 1)) == [2031]


def test_a_missing_year_is_a_warning_at_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cases.workdays"):
        assert warn_missing_years(CAL, at(12, 20)) == [2027]
    assert "no holiday data for 2027" in caplog.text and "DISPATCH_WORKDAYS_FILE" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cases.workdays"):
        assert warn_missing_years(CAL, at(6, 1)) == []
    assert caplog.text == ""


EXAMPLE_2027 = """
# an operator's file: the shape of cases/workdays.toml (these dates are an example, not the 2027 notice)
[2027]
holidays = ["2027-01-01"]
workdays = ["2027-01-02"]
"""


def test_an_operators_file_adds_or_replaces_years(tmp_path: Path) -> None:
    """DISPATCH_WORKDAYS_FILE: each year it holds is added to (or replaces) the shipped data."""
    extra = tmp_path / "workdays-extra.toml"
    extra.write_text(EXAMPLE_2027 + '\n[2025]\nholidays = ["2025-01-01"]\n', encoding="utf-8")
    cal = load_calendar(extra_file=extra)
    assert cal.years == frozenset({2025, 2026, 2027})
    assert not cal.is_working(date(2027, 1, 1)) and cal.is_working(date(2027, 1, 2))  # a Saturday
    assert cal.is_working(date(2025, 1, 28))  # 2025 replaced whole: the Spring Festival is gone
    assert not cal.is_working(date(2026, 2, 16))  # 2026 as shipped
    assert cal.coverage(at(12, 3)) == {"known_until": "2027-12-31", "missing_years": []}
    # a case opened on the last Thursday of 2026 with one working day: past New Year's Day
    assert cal.deadline(at(12, 31, 10), 1) == datetime(2027, 1, 3, tzinfo=Z)
    assert CAL.deadline(at(12, 31, 10), 1) == datetime(2027, 1, 2, tzinfo=Z)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[2027]\nholidays = ["2027-02-30"]', "[2027] holidays"),
        ("[2027]\nworkdays = []", "[2027] holidays"),  # a year's table lists its holidays
        ('[1927]\nholidays = ["1927-01-01"]', "[1927]"),
        ("[2027", "workdays-extra.toml"),
    ],
)
def test_a_malformed_operators_file_names_itself(tmp_path: Path, text: str, names: str) -> None:
    extra = tmp_path / "workdays-extra.toml"
    extra.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=re.escape(names)) as refused:
        load_calendar(extra_file=extra)
    assert str(extra) in str(refused.value)
    with pytest.raises(CalendarError, match="cannot be read"):
        load_calendar(extra_file=tmp_path / "missing.toml")


def test_the_shipped_calendar_agrees_with_chinese_calendar() -> None:
    """Every day of every year both know: a working day here exactly when the chinese-calendar package
    says so (a cross-check of the data against an independent transcription of the notices)."""
    known = {d.year for d in chinese_calendar.constants.holidays} & CAL.years
    assert {2025, 2026} <= known
    for year in sorted(known):
        day = date(year, 1, 1)
        while day.year == year:
            assert CAL.is_working(day) == chinese_calendar.is_workday(day), day
            day += timedelta(days=1)

"""Working days: weekends and public holidays off, make-up working days on (China's schedule), as data.

Deadlines of grid cases count working days. A limit of N working days from a moment ends at midnight
after the Nth working day following that moment's day; 0 means the end of the same working day (or of
the next working day, when it arrives on a day off). Progress towards a deadline counts working time
only, so a case reported on Friday evening is not half overdue by Monday morning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo


class CalendarError(ValueError):
    """The calendar data file is malformed; the message names the year and the field."""


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date]
    workdays: frozenset[date]  # make-up working days on weekends
    zone: ZoneInfo  # the jurisdiction's clock: days begin at its midnight

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _midnight_after(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(), self.zone)

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The end of the ``working_days``-th working day after ``start``'s day (0: that same day)."""
        day = start.astimezone(self.zone).date()
        counted = 0 if self.is_working(day) else -1
        while counted < working_days:
            day += timedelta(days=1)
            if self.is_working(day):
                counted += 1
        return self._midnight_after(day)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between two moments that fall on working days."""
        if end <= start:
            return 0.0
        total = 0.0
        cursor = start.astimezone(self.zone)
        end = end.astimezone(self.zone)
        while cursor < end:
            day_end = self._midnight_after(cursor.date())
            piece_end = min(day_end, end)
            if self.is_working(cursor.date()):
                total += (piece_end - cursor).total_seconds()
            cursor = piece_end
        return total

    def progress(self, start: datetime, deadline: datetime, now: datetime) -> float:
        """How much of the working time from ``start`` to ``deadline`` has passed at ``now`` (0..)."""
        allowed = self.working_seconds(start, deadline)
        if allowed <= 0:
            return 1.0 if now >= deadline else 0.0
        return self.working_seconds(start, now) / allowed


def _days(year: str, field: str, values: object) -> Iterable[date]:
    if not isinstance(values, list):
        raise CalendarError(f"workdays.toml [{year}] {field}: must be a list of dates")
    for value in values:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(
                f"workdays.toml [{year}] {field}: {value!r} is not a date (YYYY-MM-DD)"
            ) from None
        if str(day.year) != year:
            raise CalendarError(f"workdays.toml [{year}] {field}: {day} is not in {year}")
        yield day


def load_calendar(text: str | None = None, zone: str = "Asia/Shanghai") -> WorkCalendar:
    """The calendar from ``alerts/workdays.toml`` (or the given TOML text), checked."""
    if text is None:
        text = resources.files("alerts").joinpath("workdays.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"workdays.toml: {exc}") from exc
    holidays: set[date] = set()
    workdays: set[date] = set()
    for year, table in data.items():
        if not (year.isdigit() and isinstance(table, dict)):
            raise CalendarError(f"workdays.toml [{year}]: expected a table per year, like [2026]")
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"workdays.toml [{year}] {sorted(unknown)[0]}: unknown field")
        holidays.update(_days(year, "holidays", table.get("holidays", [])))
        for day in _days(year, "workdays", table.get("workdays", [])):
            if day.weekday() < 5:
                raise CalendarError(f"workdays.toml [{year}] workdays: {day} is not a Saturday or Sunday")
            workdays.add(day)
    both = holidays & workdays
    if both:
        raise CalendarError(f"workdays.toml: {min(both)} is both a holiday and a make-up working day")
    return WorkCalendar(frozenset(holidays), frozenset(workdays), ZoneInfo(zone))

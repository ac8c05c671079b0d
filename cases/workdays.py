"""Working days: weekends and public holidays off, make-up working days on (China's schedule), as data.

Deadlines of grid cases count working days. A limit of N working days from a moment ends at midnight
after the Nth working day following that moment's day; 0 means the end of the same working day (or of
the next working day, when it arrives on a day off). Progress towards a deadline counts working time
only, so a case reported on Friday evening is not half overdue by Monday morning.

The arithmetic is bounded whatever the dates: working time over a span is counted in O(log n) (whole
weeks by arithmetic, holidays and make-up days by bisection), a deadline is at most ``MAX_WORKING_DAYS``
ahead, and moments outside ``EARLIEST``..``LATEST`` or spans longer than ``MAX_SPAN`` are refused with
``SpanError`` instead of walked day by day.

A year with no table in the data is counted as plain Monday to Friday; ``WorkCalendar.coverage`` says
which years those are, so that the center can raise an alarm about them. The shipped
``cases/workdays.toml`` can be extended or corrected without a code change by an operator's file
(``DISPATCH_WORKDAYS_FILE``) of the same shape: each year it holds replaces that year of the shipped
data.
"""

from __future__ import annotations

import logging
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

# moments the calendar computes with; anything outside is a bad input, not a date to walk towards
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_SPAN = timedelta(days=50 * 366)  # working time is counted over at most this long a span
MAX_WORKING_DAYS = 366  # the longest working-day limit a deadline may be computed for
# a year without holiday data within this many days ahead is reported missing: the State Council
# publishes the next year's arrangement in the autumn, and town limits reach a few weeks ahead
LOOKAHEAD_DAYS = 45
YEARS = range(2000, 2101)  # the years a calendar file may hold a table for
SHIPPED = "workdays.toml"


class CalendarError(ValueError):
    """The calendar data file is malformed; the message names the file, the year and the field."""


class SpanError(ValueError):
    """A moment or span the calendar refuses to compute with (absurdly far, or out of range)."""


def _sorted(days: Iterable[date]) -> tuple[date, ...]:
    return tuple(sorted(days))


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date]
    workdays: frozenset[date]  # make-up working days on weekends
    zone: ZoneInfo  # the jurisdiction's clock: days begin at its midnight
    years: frozenset[int] = frozenset()  # the years the data has a table for
    # for counting in O(log n): holidays that fall on Monday-Friday, and the make-up days, sorted
    _weekday_holidays: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _makeup: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_weekday_holidays", _sorted(d for d in self.holidays if d.weekday() < 5))
        object.__setattr__(self, "_makeup", _sorted(self.workdays))

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise SpanError("a moment without a time zone")
        if not EARLIEST <= moment <= LATEST:  # compared without conversion: this never overflows
            raise SpanError(f"{moment.isoformat()} is outside {EARLIEST.year}..{LATEST.year}")
        return moment.astimezone(self.zone)

    def _midnight_after(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(), self.zone)

    def working_days_between(self, first: date, stop: date) -> int:
        """How many working days ``first`` <= day < ``stop`` holds, without walking the days."""
        if stop <= first:
            return 0
        weeks, rest = divmod((stop - first).days, 7)
        start = first.weekday()
        count = weeks * 5 + sum(1 for i in range(rest) if (start + i) % 7 < 5)

        def within(days: tuple[date, ...]) -> int:
            return bisect_left(days, stop) - bisect_left(days, first)

        return count - within(self._weekday_holidays) + within(self._makeup)

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The end of the ``working_days``-th working day after ``start``'s day (0: that same day)."""
        if not 0 <= working_days <= MAX_WORKING_DAYS:
            raise SpanError(f"{working_days} working days: at most {MAX_WORKING_DAYS}")
        day = self._local(start).date()
        counted = 0 if self.is_working(day) else -1
        # capped: with five working days a week a limit is reached long before this many days, even
        # across the longest holidays; only a calendar of little but holidays ends here
        for _ in range(3 * 366 + 7 * working_days):
            if counted >= working_days:
                end = self._midnight_after(day)
                if end > LATEST:
                    raise SpanError(f"a deadline after {LATEST.year}")
                return end
            day += timedelta(days=1)
            if self.is_working(day):
                counted += 1
        raise SpanError(f"no {working_days} working days within three years of {start.isoformat()}")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between two moments that fall on working days (wall-clock time, as the jurisdiction
        counts it: a working day is 24 hours)."""
        if end <= start:
            return 0.0
        if end - start > MAX_SPAN:
            raise SpanError(f"a span of {(end - start).days} days: at most {MAX_SPAN.days}")
        begin, finish = self._local(start), self._local(end)
        first, last = begin.date(), finish.date()
        if first == last:
            return (finish - begin).total_seconds() if self.is_working(first) else 0.0
        total = 0.0
        if self.is_working(first):
            total += (self._midnight_after(first) - begin).total_seconds()
        if self.is_working(last):
            total += (finish - datetime.combine(last, time(), self.zone)).total_seconds()
        return total + 86400.0 * self.working_days_between(first + timedelta(days=1), last)

    def progress(self, start: datetime, deadline: datetime, now: datetime) -> float:
        """How much of the working time from ``start`` to ``deadline`` has passed at ``now`` (0..)."""
        allowed = self.working_seconds(start, deadline)
        if allowed <= 0:
            return 1.0 if now >= deadline else 0.0
        if now >= deadline:  # past the deadline, however long ago: counting further tells nothing
            return max(1.0, self.working_seconds(start, min(now, start + MAX_SPAN)) / allowed)
        return self.working_seconds(start, now) / allowed

    def missing_years(self, today: date, ahead_days: int = LOOKAHEAD_DAYS) -> list[int]:
        """Years from ``today`` to ``ahead_days`` later that the data has no table for."""
        until = min(today + timedelta(days=ahead_days), date(YEARS.stop - 1, 12, 31))
        return [y for y in range(today.year, until.year + 1) if y not in self.years]

    def coverage(self, now: datetime) -> dict[str, Any]:
        """What the wall and the console show: the last day with holiday data, and the years soon
        needed that have none (counted as plain Monday to Friday until an operator adds them)."""
        today = now.astimezone(self.zone).date()
        known = max(self.years, default=None)
        return {
            "known_until": date(known, 12, 31).isoformat() if known else None,
            "missing_years": self.missing_years(today),
        }


def warn_missing_years(calendar: WorkCalendar, now: datetime | None = None) -> list[int]:
    """At start-up: say loudly which years soon needed have no holiday data (and return them)."""
    status = calendar.coverage(now or datetime.now(UTC))
    if status["missing_years"]:
        log.warning(
            "working-day calendar: no holiday data for %s (known until %s); grid-case deadlines count "
            "those years as plain Monday to Friday. Add them to the file DISPATCH_WORKDAYS_FILE names "
            "once the State Council publishes them",
            ", ".join(map(str, status["missing_years"])), status["known_until"],
        )  # fmt: skip
    missing: list[int] = status["missing_years"]
    return missing


def _days(where: str, field_name: str, values: object, year: int) -> Iterable[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where} {field_name}: must be a list of dates")
    for value in values:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(f"{where} {field_name}: {value!r} is not a date (YYYY-MM-DD)") from None
        if day.year != year:
            raise CalendarError(f"{where} {field_name}: {day} is not in {year}")
        yield day


def _parse(text: str, source: str) -> dict[int, Mapping[str, Any]]:
    """The year tables of one calendar file, checked for shape."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{source}: {exc}") from exc
    tables: dict[int, Mapping[str, Any]] = {}
    for key, table in data.items():
        if not (key.isdigit() and len(key) == 4 and isinstance(table, dict)):
            raise CalendarError(f"{source} [{key}]: expected a table per year, like [2026]")
        if int(key) not in YEARS:
            raise CalendarError(f"{source} [{key}]: only years {YEARS.start}..{YEARS.stop - 1}")
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"{source} [{key}] {sorted(unknown)[0]}: unknown field")
        tables[int(key)] = table
    return tables


def _check_year(where: str, year: int, table: Mapping[str, Any]) -> tuple[set[date], set[date]]:
    holidays = set(_days(where, "holidays", table.get("holidays", []), year))
    workdays: set[date] = set()
    for day in _days(where, "workdays", table.get("workdays", []), year):
        if day.weekday() < 5:
            raise CalendarError(f"{where} workdays: {day} is not a Saturday or Sunday")
        workdays.add(day)
    if not holidays:  # every year has public holidays: an empty table is a mistake, not a known year
        raise CalendarError(f"{where} holidays: a year's table lists its public holidays")
    both = holidays & workdays
    if both:
        raise CalendarError(f"{where}: {min(both)} is both a holiday and a make-up working day")
    return holidays, workdays


def load_calendar(
    text: str | None = None, zone: str = "Asia/Shanghai", extra_file: Path | None = None
) -> WorkCalendar:
    """The calendar from ``cases/workdays.toml`` (or the given TOML text), with the years of an
    operator's ``extra_file`` replacing or adding to it; checked, with errors naming file and year."""
    if text is None:
        text = resources.files("cases").joinpath(SHIPPED).read_text(encoding="utf-8")
    sources = [(SHIPPED, _parse(text, SHIPPED))]
    if extra_file is not None:
        try:
            extra = extra_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CalendarError(f"DISPATCH_WORKDAYS_FILE {extra_file}: cannot be read: {exc}") from exc
        sources.append((str(extra_file), _parse(extra, str(extra_file))))
    merged: dict[int, tuple[str, Mapping[str, Any]]] = {}
    for source, tables in sources:
        merged.update({year: (source, table) for year, table in tables.items()})
    holidays: set[date] = set()
    workdays: set[date] = set()
    for year, (source, table) in sorted(merged.items()):
        off, on = _check_year(f"{source} [{year}]", year, table)
        holidays |= off
        workdays |= on
    return WorkCalendar(frozenset(holidays), frozenset(workdays), ZoneInfo(zone), frozenset(merged))

"""Shift times, the pure part: the configured local start times of the day's shifts, and the shift
boundaries they give around a moment in the jurisdiction's time zone."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")
MAX_SHIFTS_A_DAY = 24


def parse_starts(values: Iterable[str]) -> tuple[time, ...]:
    """``["08:00", "16:00", "00:00"]`` -> the distinct times, in order; refuses anything else."""
    found: set[time] = set()
    for value in values:
        match = _HHMM.match(value)
        if not match:
            raise ValueError(f"a shift start is HH:MM (00:00..23:59), not {value!r}")
        found.add(time(int(match.group(1)), int(match.group(2))))
    if not 1 <= len(found) <= MAX_SHIFTS_A_DAY:
        raise ValueError(f"a day has 1 to {MAX_SHIFTS_A_DAY} shifts, not {len(found)}")
    return tuple(sorted(found))


def _around(moment: datetime, starts: Sequence[time], zone: ZoneInfo) -> list[datetime]:
    """Every boundary from the day before the moment's local date to the day after, in order."""
    day = moment.astimezone(zone).date()
    return sorted(
        datetime.combine(day + timedelta(days=d), t, tzinfo=zone) for d in (-1, 0, 1) for t in starts
    )


def next_end(after: datetime, starts: Sequence[time], zone: ZoneInfo) -> datetime:
    """The first shift boundary strictly after ``after``."""
    return next(b for b in _around(after, starts, zone) if b > after)


def shift_start(end: datetime, starts: Sequence[time], zone: ZoneInfo) -> datetime:
    """The start of the shift that ends at ``end``: the last boundary before it."""
    return [b for b in _around(end, starts, zone) if b < end][-1]

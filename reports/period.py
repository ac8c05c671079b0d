"""What a report may be asked for: a period of at most two years and a grouping from a fixed list.

The grouping names map to SQL expressions chosen here, never from the request, so that nothing a
client sends reaches the statement's text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from core.errors import Invalid

MAX_PERIOD = timedelta(days=731)  # two years, a leap day included
MAX_ROWS = 1000  # a grouping with more groups than this (zones?) is cut, and the answer says so


class Grouping(StrEnum):
    ALL = "all"
    CATEGORY = "category"
    PRIORITY = "priority"
    ZONE = "zone"  # the jurisdiction a call was taken for
    HOUR = "hour"  # of the day, in the jurisdiction's time zone
    DAY = "day"  # the date, in the jurisdiction's time zone
    UNIT_KIND = "unit_kind"


# each grouping's key over incidents `i` (and, for unit kinds, units `u`); $tz is the time zone. Keys are
# numbers, dates or bytewise-ordered text: a year's rows are sorted by them, and a locale's collation
# or a formatted string per row would cost more than the report itself
GROUP_SQL: dict[Grouping, str] = {
    Grouping.ALL: "'all'",
    Grouping.CATEGORY: 'i.category collate "C"',
    Grouping.PRIORITY: "i.priority",
    Grouping.ZONE: "coalesce(i.zone, '') collate \"C\"",
    Grouping.HOUR: "extract(hour from i.received_at at time zone $tz)::int",
    Grouping.DAY: "(i.received_at at time zone $tz)::date",
    Grouping.UNIT_KIND: 'u.kind collate "C"',
}


def group_name(grouping: Grouping, key: Any) -> str:
    """A row's group as the report shows it: the hour as "07", the day as "2026-12-04", the rest as is."""
    if grouping is Grouping.HOUR:
        return f"{int(key):02d}"
    if isinstance(key, date):
        return key.isoformat()
    return str(key)


@dataclass(frozen=True, slots=True)
class Period:
    """[since, until): both aware, until after since, at most MAX_PERIOD apart."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise Invalid("a period's times carry a time zone", field="since")
        if self.until <= self.since:
            raise Invalid("until: must be after since", field="until")
        if self.until - self.since > MAX_PERIOD:
            raise Invalid(f"a period spans at most {MAX_PERIOD.days} days", field="until",
                          max_days=MAX_PERIOD.days)  # fmt: skip

    def as_json(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}

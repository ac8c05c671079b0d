"""A report's answer as a table: named columns (with their labels and what their numbers are) and
rows, the one shape the API, the page and the CSV and XLSX exports share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Measure(StrEnum):
    TEXT = "text"  # a group's name
    COUNT = "count"
    SECONDS = "seconds"
    SHARE = "share"  # 0..1


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    measure: Measure = Measure.COUNT


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Any]]
    # what the table answers for: the period, the grouping, the targets it measured against
    about: dict[str, Any]
    truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        keys = [c.key for c in self.columns]
        return {
            "report": self.name, **self.about, "truncated": self.truncated,
            "columns": [{"key": c.key, "zh": c.zh, "en": c.en, "measure": c.measure.value}
                        for c in self.columns],
            "rows": [dict(zip(keys, row, strict=True)) for row in self.rows],
        }  # fmt: skip


def rounded(value: Any, measure: Measure) -> Any:
    """Seconds to a tenth, shares to a thousandth; the rest as they are."""
    if value is None:
        return None
    if measure is Measure.SECONDS:
        return round(float(value), 1)
    if measure is Measure.SHARE:
        return round(float(value), 3)
    return value

"""Reports: a table of figures for a period, the shift reports, one incident's replay."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from reports.table import Measure
from web.answers.common import Answer, IsoTime


class ReportColumn(Answer):
    key: str
    zh: str
    en: str
    measure: Measure = Field(description="text (a group's name), count, seconds, or share (0..1)")


class ReportTable(Answer):
    """The rows of one report for a period, one per group, with what they were measured against."""

    # each report adds what it measured against (targets, the urgent priorities): typed fields for
    # the common ones, the rest kept as they come
    model_config = ConfigDict(extra="allow")
    report: str
    since: IsoTime
    until: IsoTime
    by: str | None = Field(None, description="the grouping, for reports that are grouped by choice")
    timezone: str | None = Field(None, description="the zone days and hours are counted in, where they are")
    truncated: bool = Field(description="more groups than a table holds: the rest left out")
    columns: list[ReportColumn]
    rows: list[dict[str, Any]] = Field(description="one object per group, keyed by the columns' keys")


class ShiftListed(Answer):
    id: int
    shift_start: IsoTime
    shift_end: IsoTime
    made_at: IsoTime
    incidents: int | None
    arrive_p90: float | None
    stale_units: int | None


class ShiftReport(Answer):
    """One shift's summary as it was made and kept."""

    model_config = ConfigDict(extra="allow")
    id: int
    made_at: IsoTime


class Replay(Answer):
    """One incident's timeline and its units' trails, times as epoch milliseconds for the player."""

    model_config = ConfigDict(extra="allow")
    incident: dict[str, Any]
    start_ms: int
    end_ms: int
    events: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    units: list[dict[str, Any]]

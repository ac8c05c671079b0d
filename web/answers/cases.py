"""Grid cases: one case, its supervision records."""

from __future__ import annotations

from pydantic import Field

from cases.status import CaseStatus, Level
from web.answers.common import Answer, IsoTime


class CaseOut(Answer):
    id: int
    alert_id: int
    incident_id: int
    category: str
    status: CaseStatus
    level: Level
    town: str
    community: str
    grid_cell: str | None
    reported_by: str
    assignee: str | None
    opened_at: IsoTime
    level_started_at: IsoTime
    deadline: IsoTime | None = Field(description="none at the last level")
    reminded_at: IsoTime | None
    warned_at: IsoTime | None
    overdue_at: IsoTime | None
    resolution: str | None
    return_reason: str | None
    closed_at: IsoTime | None


class Supervision(Answer):
    by: str
    note: str
    old_deadline: IsoTime | None
    new_deadline: IsoTime
    at: IsoTime


class CaseDetail(CaseOut):
    supervisions: list[Supervision]

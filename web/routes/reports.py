"""Reports (dispatchers and admins; wall screens read them too): response times, offers and grid cases
for a period, as JSON or exported as CSV or XLSX; the shift reports; one incident's replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from core.bounds import Instant, PathId
from core.roles import Role
from core.tokens import Principal
from reports import export
from reports.cases import grid_cases
from reports.offers import offers
from reports.period import Grouping, Period
from reports.replay import replay
from reports.response import response_times
from reports.table import Table
from web.answers.reports import Replay, ReportTable, ShiftListed, ShiftReport
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1", tags=["reports"])
Reader = Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.DISPLAY))]
Since = Annotated[Instant, Query(description="start of the period (included), ISO 8601 with an offset")]
Until = Annotated[Instant, Query(description="end of the period (excluded); at most 731 days after since")]
By = Annotated[Grouping, Query(description="what the rows are per")]


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


As = Annotated[Format, Query(description="json (default), or a download: csv or xlsx")]
DOWNLOADS: dict[int | str, dict[str, Any]] = {200: {"content": {
    export.CSV_TYPE: {"schema": {"type": "string"}},
    export.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
}}}  # fmt: skip


async def _answer(table: Table, form: Format) -> Any:
    if form is Format.JSON:
        return table.as_json()
    # building a workbook is CPU work: off the event loop (a table holds at most MAX_ROWS rows)
    if form is Format.CSV:
        body, media = await asyncio.to_thread(export.to_csv, table), export.CSV_TYPE
    else:
        body, media = await asyncio.to_thread(export.to_xlsx, table), export.XLSX_TYPE
    name = export.filename(table, form.value)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/response", response_model=ReportTable, responses=DOWNLOADS)
async def response_report(
    svc: ServicesDep, _: Reader, since: Since, until: Until, by: By = Grouping.CATEGORY,
    format: As = Format.JSON,
) -> Any:  # fmt: skip
    """Per group: incidents, time to dispatch, to acknowledge and to the first unit on scene (p50, p90,
    max, seconds from the call), the share within the catalogue's targets and the 1-3-5 rule for
    urgent calls, incidents no unit reached and those that waited with nobody free."""
    period = Period(since, until)
    async with svc.pool.acquire() as conn:
        table = await response_times(conn, svc.catalogue, period, by, svc.timezone)
    return await _answer(table, format)


@router.get("/reports/offers", response_model=ReportTable, responses=DOWNLOADS)
async def offers_report(
    svc: ServicesDep, _: Reader, since: Since, until: Until, by: By = Grouping.UNIT_KIND,
    format: As = Format.JSON,
) -> Any:  # fmt: skip
    """Per group: offers made, accepted, declined, timed out and cancelled, and the time to accept."""
    period = Period(since, until)
    async with svc.pool.acquire() as conn:
        table = await offers(conn, svc.catalogue, period, by, svc.timezone)
    return await _answer(table, format)


@router.get("/reports/cases", response_model=ReportTable, responses=DOWNLOADS)
async def cases_report(
    svc: ServicesDep, _: Reader, since: Since, until: Until, format: As = Format.JSON
) -> Any:
    """Grid cases per level and town: opened, resolved, escalated, gone overdue in the period, and
    those open and past their deadline at its end."""
    async with svc.pool.acquire() as conn:
        table = await grid_cases(conn, Period(since, until))
    return await _answer(table, format)


@router.get("/reports/shifts", response_model=list[ShiftListed])
async def shift_reports(
    svc: ServicesDep, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """The shift reports made, newest first."""
    return await svc.shifts.recent(limit)


@router.get("/reports/shifts/{report_id}", response_model=ShiftReport)
async def shift_report(report_id: PathId, svc: ServicesDep, _: Reader) -> dict[str, Any]:
    """One shift's summary: counts, response times, the worst ones, overdue cases, stale units."""
    return await svc.shifts.get(report_id)


@router.get("/incidents/{incident_id}/replay", response_model=Replay)
async def incident_replay(incident_id: PathId, svc: ServicesDep, _: Reader) -> dict[str, Any]:
    """The incident's timeline and its units' trails from the stored positions, to play on a map."""
    async with svc.pool.acquire() as conn:
        return await replay(conn, incident_id, datetime.now(UTC))

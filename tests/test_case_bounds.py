"""Dates a client sends to grid cases are bounded, and the deadline check survives any row already stored:
a far-future supervision deadline is refused; a case with an absurd date is logged and skipped while the
other cases are still checked, with bounded work (counted, not timed)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from alerts.catalogue import load_catalogue
from cases.casebook import SUPERVISION_MAX_AHEAD, CaseBook
from cases.workdays import WorkCalendar, load_calendar
from center.connections import open_pool
from center.runtime import Roles
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe
from tests.test_cases import CELL, Clock, at, case_of, person, until
from units.kinds import load_kinds


async def open_case(center: Center, n: int = 0) -> dict[str, Any]:
    """A case of a report of its own (reports 1 km apart are not taken for the same matter)."""
    async with person(center, "wang", "community", "T1/C1") as wang:
        reply = await wang.post("/api/v1/grid/events", json={
            "category": "safety_hazard", "location": {"lat": 31.2350 + 0.01 * n, "lon": 121.4750},
            "grid_cell": CELL, "description": f"a loose manhole cover, number {n}",
        })  # fmt: skip
        assert reply.status_code == 202, reply.text
    return await case_of(center, reply.json()["incident_id"])


async def test_a_supervision_deadline_outside_the_window_is_refused_and_changes_nothing(
    center: Center,
) -> None:
    """A deadline in the past, more than a year ahead, near year 1 or 9999, or without a time zone: 422
    naming the field, no supervision record, the deadline as it was. One within the window is taken."""
    case = await open_case(center)
    now = datetime.now(UTC)
    refused = [
        "9999-12-31T23:59:59+14:00",  # the report's example: the job walked towards it day by day
        "0001-01-01T00:00:00-14:00",
        (now + SUPERVISION_MAX_AHEAD + timedelta(days=1)).isoformat(),
        (now - timedelta(hours=1)).isoformat(),
        "2026-10-09T18:00:00",  # no time zone
    ]
    async with person(center, "chen", "county", None) as county:
        for deadline in refused:
            reply = await county.post(
                f"/api/v1/cases/{case['id']}/supervise", json={"note": "attend", "deadline": deadline}
            )
            assert reply.status_code == 422, (deadline, reply.text)
            assert reply.json()["field"] == "deadline", reply.text
        after = (await county.get(f"/api/v1/cases/{case['id']}")).json()
        assert after["supervisions"] == [] and after["deadline"] == case["deadline"]
        async with center.client(Role.DISPATCHER) as desk:
            timeline = (await desk.get(f"/api/v1/incidents/{case['incident_id']}")).json()["timeline"]
        assert "case.supervised" not in [e["kind"] for e in timeline]

        fine = (now + timedelta(days=30)).isoformat()
        reply = await county.post(
            f"/api/v1/cases/{case['id']}/supervise", json={"note": "attend", "deadline": fine}
        )
        assert reply.status_code == 200, reply.text
        assert datetime.fromisoformat(reply.json()["deadline"]) == datetime.fromisoformat(fine)


class CountingCalendar(WorkCalendar):
    """The shipped calendar, counting the days it looks at: the check's work, measured without a clock."""

    looked_at = 0

    def is_working(self, day: Any) -> bool:
        CountingCalendar.looked_at += 1
        return super().is_working(day)


@pytest.mark.timeout(120)
async def test_a_case_with_an_absurd_date_does_not_stop_the_others(
    stores: Stores, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows stored before the bounds (written here with SQL): a deadline before year 1, one in year 9999,
    a level started in year 1. The scheduler's check logs each and still escalates the overdue case
    beside them; a check over all of them looks at a bounded number of days and raises nothing."""
    await wipe(stores)
    clock = Clock(at(9, 16, 10))  # Wednesday: one working day for a safety hazard, due Friday 00:00
    settings = center_settings(stores, data_dir=tmp_path, case_check_every_s=0.2)
    caplog.set_level(logging.WARNING, logger="cases.casebook")
    async with serving(settings, Roles(), clock) as center:
        cases = [await open_case(center, i) for i in range(4)]
        good, before_year_1, level_in_year_1, year_9999 = (c["id"] for c in cases)
        conn = await asyncpg.connect(stores.database_url)
        try:
            # the check takes cases soonest deadline first: two of the bad ones come before the good one
            await conn.execute(
                "update grid_cases set deadline = '4713-01-01 00:00:00+00 BC' where id = $1", before_year_1
            )
            await conn.execute(
                """update grid_cases set level_started_at = '0001-01-01 00:00:00+00',
                       deadline = deadline - interval '1 minute' where id = $1""",
                level_in_year_1,
            )  # fmt: skip
            await conn.execute(
                "update grid_cases set deadline = '9999-12-31T23:59:59+14:00' where id = $1", year_9999
            )
            clock.now = at(9, 18, 9)  # Friday 09:00: the good case is overdue, up to the town
            escalated = await until(center, good, lambda c: c["level"] == "town", within_s=20)
            assert escalated["status"] == "reported"
            async with center.client(None) as anyone:
                assert (await anyone.get("/healthz")).status_code == 200
            rows = await conn.fetch("select id, level from grid_cases where id <> $1", good)
            levels = {r["id"]: r["level"] for r in rows}
            assert set(levels.values()) == {"community"}, levels
        finally:
            await conn.close()
    said = (re.match(r"case (\d+): its deadline could not", r.getMessage()) for r in caplog.records)
    logged = {int(m.group(1)) for m in said if m}
    assert {before_year_1, level_in_year_1, year_9999} <= logged, caplog.text

    shipped = load_calendar()
    counting = CountingCalendar(shipped.holidays, shipped.workdays, shipped.zone, shipped.years)
    pool = await open_pool(stores.database_url, min_size=1, max_size=2)
    try:
        book = CaseBook(pool, load_catalogue(unit_kinds=load_kinds().keys()), counting, lambda: at(9, 30, 9))
        events = await book.check_deadlines()
    finally:
        await pool.close()
    # the good case, held at the town since Friday and past its deadline, goes up to the county; the bad
    # ones give nothing
    assert {e.incident_id for e in events} == {cases[0]["incident_id"]}, events
    assert "case.escalated" in [e.kind for e in events]
    # the day-by-day walk towards year 9999 looked at 2.9 million days; the bounded check a handful
    assert CountingCalendar.looked_at < 100, CountingCalendar.looked_at

"""The reports on a generated history with known answers: the test computes every figure from the rows
it wrote (percentiles by its own interpolation) and compares with what the API says; the exports are
opened and read back; the bounds of a period and a grouping are refused with the field named."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
from openpyxl import load_workbook

from alerts.catalogue import load_catalogue
from core.roles import Role
from tests.conftest import Center
from tests.report_history import START, History, Incident, expected_response_row, generate, percentile


@pytest.fixture
async def history(db: asyncpg.Connection) -> History:
    return await generate(db)


def targets() -> dict[str, tuple[int, int]]:
    return {c.code: (c.targets.dispatch_s, c.targets.arrive_s) for c in load_catalogue()}


async def report(
    center: Center, name: str, history: History, role: Role = Role.DISPATCHER, **params: Any
) -> Any:
    period = {"since": history.since().isoformat(), "until": history.until().isoformat()}
    async with center.client(role) as client:
        reply = await client.get(f"/api/v1/reports/{name}", params=period | params)
    assert reply.status_code == 200, reply.text
    return reply


def assert_row_is(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if value is None or isinstance(value, int):
            assert got[key] == value, key
        else:
            # the center rounds seconds to 0.1 and shares to 0.001
            assert got[key] == pytest.approx(
                value, abs=0.051 if key.endswith(("50", "90", "max")) else 0.0006
            ), key


def grouped(history: History, key: Any) -> dict[str, list[Incident]]:
    groups: dict[str, list[Incident]] = defaultdict(list)
    for i in history.incidents:
        groups[key(i)].append(i)
    return groups


async def test_response_times_per_category_are_the_known_answers(center: Center, history: History) -> None:
    """Count, p50/p90/max to dispatch, acknowledge and first unit on scene, the share within the
    catalogue's targets and the 1-3-5 rule, unreached and waiting incidents, per category."""
    body = (await report(center, "response", history, by="category")).json()
    expected = grouped(history, lambda i: i.category)
    assert [r["group"] for r in body["rows"]] == sorted(expected)
    for row in body["rows"]:
        assert_row_is(row, expected_response_row(expected[row["group"]], targets()))
    assert sum(r["incidents"] for r in body["rows"]) == len(history.incidents)  # merged, case, outside: out
    assert body["by"] == "category" and not body["truncated"]


async def test_response_times_per_hour_of_day_use_the_jurisdictions_clock(
    center: Center, history: History
) -> None:
    zone = ZoneInfo(center.settings.timezone)
    body = (await report(center, "response", history, by="hour")).json()
    expected = grouped(history, lambda i: f"{i.received.astimezone(zone).hour:02d}")
    assert {r["group"]: r["incidents"] for r in body["rows"]} == {h: len(v) for h, v in expected.items()}
    for row in body["rows"]:
        assert_row_is(row, expected_response_row(expected[row["group"]], targets()))
    by_priority = (await report(center, "response", history, by="priority")).json()
    expected = grouped(history, lambda i: str(i.priority))
    for row in by_priority["rows"]:
        assert_row_is(row, expected_response_row(expected[row["group"]], targets()))


async def test_response_per_unit_kind_and_offers(center: Center, history: History) -> None:
    """Per kind: each incident once per kind offered, timed from that kind's first offer; the offers
    report counts what each kind did with its offers."""
    body = (await report(center, "response", history, by="unit_kind")).json()
    per_kind: dict[str, list[float]] = defaultdict(list)
    for i in history.incidents:
        firsts: dict[str, float] = {}
        for o in i.offers:
            firsts[o.kind] = min(firsts.get(o.kind, 1e12), (o.offered - i.received).total_seconds())
        for kind, seconds in firsts.items():
            per_kind[kind].append(seconds)
    assert {r["group"]: r["incidents"] for r in body["rows"]} == {k: len(v) for k, v in per_kind.items()}
    for row in body["rows"]:
        assert row["dispatch_p90"] == pytest.approx(percentile(per_kind[row["group"]], 0.9), abs=0.051)
    offers = (await report(center, "offers", history, by="unit_kind")).json()
    all_offers = [o for i in history.incidents for o in i.offers]
    for row in offers["rows"]:
        mine = [o for o in all_offers if o.kind == row["group"]]
        accepted = [(o.accepted - o.offered).total_seconds() for o in mine if o.accepted]
        assert row["offers"] == len(mine)
        assert row["timed_out"] == sum(o.status == "timed_out" for o in mine)
        assert row["accepted"] == len(accepted)
        assert row["accept_p50"] == pytest.approx(percentile(accepted, 0.5), abs=0.051)
    assert sum(r["timed_out"] for r in offers["rows"]) > 0


async def test_grid_cases_per_level_and_town(
    center: Center, db: asyncpg.Connection, history: History
) -> None:
    """Opened, resolved, escalated (at the level left) and overdue marks in the period, from the event log,
    and the cases still open past their deadline at its end."""
    marks = [("case.opened", {"level": "community", "town": "T1"}, 3),
             ("case.overdue", {"level": "community", "town": "T1"}, 2),
             ("case.escalated", {"from_level": "community", "level": "town", "town": "T1"}, 2),
             ("case.resolved", {"level": "town", "town": "T1"}, 1),
             ("case.opened", {"level": "community", "town": "T2"}, 1)]  # fmt: skip
    for kind, data, times in marks:
        for n in range(times):
            at = START + timedelta(days=1, minutes=n)
            await db.execute("insert into events (at, kind, actor, data) values ($1, $2, 'test', $3::jsonb)",
                             at, kind, orjson.dumps(data).decode())  # fmt: skip
    await db.execute(
        "insert into events (at, kind, actor, data) values ($1, 'case.opened', 'test', $2::jsonb)",
        START - timedelta(days=1),
        orjson.dumps({"level": "community", "town": "T1"}).decode(),
    )  # before: not counted
    incident = await db.fetchval("select max(id) from incidents")

    async def case(status: str) -> None:
        """A grid case of town T1 opened on the period's second day, its deadline passed on the fourth."""
        alert = await db.fetchval(
            """insert into alerts (channel, category, priority, lat, lon, orig_lat, orig_lon, reported_by)
               values ('grid', 'safety_hazard', 3, 31, 121, 31, 121, 'gw') returning id"""
        )
        await db.execute(
            """insert into grid_cases (alert_id, incident_id, category, status, level, town, community,
                   reported_by, opened_at, level_started_at, deadline)
               values ($1, $2, 'safety_hazard', $3, 'town', 'T1', 'T1/C1', 'gw', $4, $4, $5)""",
            alert, incident, status, START + timedelta(days=1), START + timedelta(days=3),
        )  # fmt: skip

    await case("reported")
    await case("resolved")  # waiting for its verification: past the deadline, yet nobody is late
    body = (await report(center, "cases", history)).json()
    rows = {(r["level"], r["town"]): r for r in body["rows"]}
    assert rows[("community", "T1")] | {} == {
        "level": "community",
        "town": "T1",
        "opened": 3,
        "resolved": 0,
        "escalated": 2,
        "overdue": 2,
        "overdue_open_at_end": 0,
    }
    assert rows[("town", "T1")]["resolved"] == 1 and rows[("town", "T1")]["overdue_open_at_end"] == 1
    assert rows[("community", "T2")]["opened"] == 1


async def test_exports_hold_the_same_table(center: Center, history: History) -> None:
    """CSV and XLSX of a report: the header in both languages, then exactly the rows the API shows."""
    shown = (await report(center, "response", history, by="priority")).json()
    keys = [c["key"] for c in shown["columns"]]
    as_csv = await report(center, "response", history, by="priority", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert lines[0][0] == "Group / 分组" and len(lines) == len(shown["rows"]) + 1
    for line, row in zip(lines[1:], shown["rows"], strict=True):
        assert line == ["" if row[k] is None else str(row[k]) for k in keys]
    as_xlsx = await report(center, "response", history, by="priority", format="xlsx", role=Role.DISPLAY)
    book = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
    sheet = list(book["response"].iter_rows(values_only=True))
    assert sheet[0][1] == "Incidents / 警情数"
    assert [list(r) for r in sheet[1:]] == [[row[k] for k in keys] for row in shown["rows"]]
    about = {str(r[0]): r[1] for r in book["about"].iter_rows(values_only=True)}
    assert about["by"] == "priority" and about["since"] == history.since().isoformat()
    cases_csv = await report(center, "cases", history, format="csv")
    assert cases_csv.content.decode("utf-8-sig").startswith("Level / 层级,Town / 街镇")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "2024-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"}, "until"),
     ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
     ({"since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00Z"}, "since"),
     ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z", "by": "caller_phone"}, "by"),
     ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z", "format": "pdf"}, "format")],
)  # fmt: skip
async def test_a_period_and_grouping_are_bounded(center: Center, params: dict[str, str], field: str) -> None:
    async with center.client(Role.DISPATCHER) as desk:
        reply = await desk.get("/api/v1/reports/response", params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field


async def test_a_full_two_year_period_is_answered(center: Center) -> None:
    async with center.client(Role.ADMIN) as admin:
        span = {"since": "2024-01-01T00:00:00+08:00", "until": "2026-01-01T00:00:00+08:00"}
        reply = await admin.get("/api/v1/reports/offers", params=span | {"by": "day"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == []

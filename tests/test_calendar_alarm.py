"""A year without holiday data is loud: the /ws/ops snapshot says which (the wall and the console show it),
and an operator's file named by DISPATCH_WORKDAYS_FILE supplies it without a code change."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from center.runtime import Roles
from center.settings import Settings
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, receive, serving, wipe
from tests.test_cases import Clock, Z, at, case_of, person, report_hazard

# an operator's file (these dates are an example for the test, not the State Council's 2027 notice)
EXAMPLE_2027 = '[2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-02"]\n'


async def snapshot(center: Center) -> dict[str, Any]:
    ws = await center.socket("/ws/ops", Role.DISPLAY)
    try:
        frame = await receive(ws)
    finally:
        await ws.close()
    assert frame["type"] == "snapshot", frame
    state: dict[str, Any] = frame["state"]
    return state


async def test_a_missing_year_is_in_the_snapshot(stores: Stores, tmp_path: Path) -> None:
    """In December with no table for the coming year, screens are told which year is missing."""
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path)
    async with serving(settings, Roles(), Clock(at(12, 3, 9))) as center:
        state = await snapshot(center)
    assert state["calendar"] == {"known_until": "2026-12-31", "missing_years": [2027]}


async def test_an_operators_file_fills_the_year_in(stores: Stores, tmp_path: Path) -> None:
    """With the coming year in DISPATCH_WORKDAYS_FILE nothing is missing, and case deadlines use it."""
    await wipe(stores)
    extra = tmp_path / "workdays-2027.toml"
    extra.write_text(EXAMPLE_2027, encoding="utf-8")
    clock = Clock(at(12, 31, 10))  # the last Thursday of 2026; Friday is New Year's Day in the file
    settings = center_settings(stores, data_dir=tmp_path, workdays_file=extra)
    async with serving(settings, Roles(), clock) as center:
        assert (await snapshot(center))["calendar"] == {"known_until": "2027-12-31", "missing_years": []}
        async with person(center, "wang", "community", "T1/C1") as wang:
            reply = await report_hazard(wang)
        case = await case_of(center, reply.json()["incident_id"])
    # one working day: Thursday itself, then the make-up Saturday (Friday the 1st is a holiday)
    assert datetime.fromisoformat(case["deadline"]) == datetime(2027, 1, 3, tzinfo=Z)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISPATCH_WORKDAYS_FILE", str(tmp_path / "workdays.toml"))
    assert Settings().workdays_file == tmp_path / "workdays.toml"

"""Shift reports made on schedule: two centers share one database and a controllable clock (the time
shift ends are measured by); as the clock passes each shift end, the shift's report appears in the
list once, with the figures of the incidents received during that shift, and a center that was down
over several shift ends makes each missed report when it is back."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from center.runtime import Roles
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe
from tests.helpers import wait_until
from tests.report_history import START, expected_response_row, generate
from tests.test_reports import targets


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def listed(center: Center) -> list[dict[str, Any]]:
    async with center.client(Role.DISPATCHER) as reader:
        reply = await reader.get("/api/v1/reports/shifts", params={"limit": 50})
        reply.raise_for_status()
        rows: list[dict[str, Any]] = reply.json()
        return rows


async def test_each_shift_end_makes_its_report_once_with_that_shifts_figures(
    stores: Stores, tmp_path: Any
) -> None:
    await wipe(stores)
    # shifts start at 08:00, 16:00 and 00:00 in Shanghai (UTC+8): they end at 00:00, 08:00, 16:00 UTC
    settings = center_settings(
        stores,
        data_dir=tmp_path,
        shift_check_every_s=0.1,
        shift_starts=["08:00", "16:00", "00:00"],
        timezone="Asia/Shanghai",
    )
    clock = Clock(START + timedelta(days=1, hours=7))  # Tuesday 15:00 in Shanghai
    db = await asyncpg.connect(settings.database_url)
    try:
        async with serving(settings, Roles(), clock) as one, serving(settings, Roles(), clock) as two:
            history = await generate(db)
            await wait_until(lambda: db.fetchval("select count(*) = 1 from shift_clock"))
            await asyncio.sleep(0.3)  # three checks of each center with the clock before the shift's end
            assert await listed(one) == []

            clock.now = START + timedelta(days=1, hours=8, seconds=30)  # just past 16:00 in Shanghai
            reported: bool = await wait_until(functools.partial(_count, one, 1))
            [made] = await listed(two) if reported else []
            shift = (START + timedelta(days=1), START + timedelta(days=1, hours=8))
            assert (made["shift_start"], made["shift_end"]) == tuple(t.isoformat() for t in shift)
            during = [i for i in history.incidents if shift[0] <= i.received < shift[1]]
            assert during and made["incidents"] == len(during)
            async with one.client(Role.DISPLAY) as wall:
                page = (await wall.get(f"/api/v1/reports/shifts/{made['id']}")).json()
            want = expected_response_row(during, targets())
            assert page["response"]["incidents"] == len(during)
            assert abs(page["response"]["arrive_p90"] - want["arrive_p90"]) <= 0.051
            assert abs(page["response"]["dispatch_max"] - want["dispatch_max"]) <= 0.051

        # both centers down over six shift ends, back two days later: each missed shift once, in order
        clock.now = START + timedelta(days=3, hours=9)
        async with serving(settings, Roles(), clock) as one, serving(settings, Roles(), clock):
            caught_up: bool = await wait_until(functools.partial(_count, one, 7))
            await asyncio.sleep(0.3)
            reports = await listed(one) if caught_up else []
            ends = [r["shift_end"] for r in reversed(reports)]
            expected = [START + timedelta(days=1, hours=8 * n) for n in range(1, 8)]
            assert ends == [t.isoformat() for t in expected]
    finally:
        await db.close()


async def _count(center: Center, n: int) -> bool:
    return len(await listed(center)) >= n

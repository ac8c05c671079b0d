"""Grid cases worked by their community, simulated: a report that becomes a case is accepted, given to
the cell's grid worker, worked, resolved, verified and closed by the community's seat (its token names
the level and the area), each step a while after the last; now and then a report is returned as not a
matter for the grid, and some cases are left open to run towards their deadlines."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from core.roles import Role
from simulation.api import FAILED, Api
from simulation.clock import SimClock

log = logging.getLogger(__name__)

STEPS = ("accept", "assign", "start", "resolve", "verify", "close")
RETURNED_SHARE = 0.08
LEFT_OPEN_SHARE = 0.25  # worked up to "in progress" and then left for days, as real cases are


class CaseWork:
    def __init__(self, api: Api, clock: SimClock, rng: random.Random,
                 step_s: tuple[float, float] = (20.0, 90.0)) -> None:  # fmt: skip
        self.api = api
        self.clock = clock
        self.rng = rng
        self.step_s = step_s
        self.steps = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def on_frame(self, m: dict[str, Any]) -> None:
        """A listener of the ops feed: a new case starts its work."""
        if m.get("type") != "event" or m.get("kind") != "case.opened":
            return
        case = m.get("data") or {}
        if not isinstance(case.get("id"), int) or not case.get("community"):
            return
        task = asyncio.create_task(self._work(case), name=f"case-{case['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, case: dict[str, Any]) -> None:
        area = str(case["community"])
        cell = str(case.get("grid_cell") or area).rsplit("/", 1)[-1]
        steps: tuple[str, ...] = STEPS
        roll = self.rng.random()
        if roll < RETURNED_SHARE:
            steps = ("return",)
        elif roll < RETURNED_SHARE + LEFT_OPEN_SHARE:
            steps = STEPS[:3]
        for step in steps:
            await self.clock.sleep(self.rng.uniform(*self.step_s))
            body: dict[str, str] = {}
            if step == "assign":
                body = {"assignee": f"网格员 {area}/{cell}"}
            elif step == "resolve":
                body = {"note": "已到现场处置完毕"}
            elif step == "return":
                body = {"note": "不属于网格事项, 已转交相关部门"}
            try:
                await self.api.request("POST", f"/api/v1/cases/{case['id']}/{step}", Role.GRID_WORKER, body,
                                       subject=f"community-{area}", area=area)  # fmt: skip
            except FAILED as exc:
                log.info("casework: case %s, %s: %s", case["id"], step, exc)
                return
            except Exception:  # nobody awaits this task: say what went wrong here
                log.exception("casework: case %s, %s", case["id"], step)
                return
            self.steps += 1

    async def run(self) -> None:
        """Owns the cases' pending steps: they stop with it."""
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

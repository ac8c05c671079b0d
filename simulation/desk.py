"""The dispatchers' desk, simulated: it watches the operational picture and does a dispatcher's routine
work through the API. A recommendation waiting for confirmation is read and sent after a few seconds
(tried again later while nobody suitable is free); an incident is closed once every unit has cleared."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from core.roles import Role
from simulation.api import FAILED, Api
from simulation.clock import SimClock

log = logging.getLogger(__name__)

RETRY_S = 30.0  # simulated seconds between tries to confirm while nobody suitable is free
MAX_TRIES = 60


class Desk:
    def __init__(
        self, api: Api, clock: SimClock, rng: random.Random, *, confirm_s: tuple[float, float] = (3.0, 8.0),
        close_s: tuple[float, float] = (2.0, 6.0),
    ) -> None:  # fmt: skip
        self.api = api
        self.clock = clock
        self.rng = rng
        self.confirm_s = confirm_s
        self.close_s = close_s
        self.confirmed = 0
        self.closed = 0
        self._busy: set[int] = set()  # incidents with an action under way
        self._tasks: set[asyncio.Task[None]] = set()

    def on_frame(self, m: dict[str, Any]) -> None:
        """A listener of the ops feed."""
        if m.get("type") == "snapshot":
            for incident in m["state"]["incidents"]:
                self._consider(incident["id"], incident["status"])
            return
        incident_id, kind = m.get("incident_id"), str(m.get("kind", ""))
        if not isinstance(incident_id, int):
            return
        if kind == "incident.awaiting_confirmation":
            self._consider(incident_id, "awaiting_confirmation")
        elif kind.startswith("assignment.") and (m.get("data") or {}).get("incident_status") == "cleared":
            self._consider(incident_id, "cleared")

    def _consider(self, incident_id: int, status: str) -> None:
        if incident_id in self._busy:
            return
        if status == "awaiting_confirmation":
            self._later(incident_id, self.rng.uniform(*self.confirm_s), self._confirm)
        elif status == "cleared":
            self._later(incident_id, self.rng.uniform(*self.close_s), self._close)

    def _later(self, incident_id: int, delay_s: float, action: Callable[[int], Awaitable[None]]) -> None:
        self._busy.add(incident_id)

        async def run() -> None:
            try:
                await self.clock.sleep(delay_s)
                await action(incident_id)
            except FAILED as exc:
                log.info("desk: incident %s: %s", incident_id, exc)
            except Exception:  # nobody awaits this task: say what went wrong here
                log.exception("desk: incident %s", incident_id)
            finally:
                self._busy.discard(incident_id)

        task = asyncio.create_task(run(), name=f"desk-{incident_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm(self, incident_id: int) -> None:
        for _ in range(MAX_TRIES):
            incident = await self.api.get(f"/api/v1/incidents/{incident_id}")
            if incident["status"] != "awaiting_confirmation":
                return
            rec = await self.api.get(f"/api/v1/incidents/{incident_id}/recommendation")
            picks = [p["unit_id"] for p in rec["picks"]]
            if picks:
                sent = await self.api.request(
                    "POST",
                    f"/api/v1/incidents/{incident_id}/assignments",
                    Role.DISPATCHER,
                    {"unit_ids": picks},
                    ok=(201, 409),
                )
                if "offered" in sent:
                    self.confirmed += 1
                    return
            await self.clock.sleep(RETRY_S)

    async def _close(self, incident_id: int) -> None:
        closed = await self.api.request("POST", f"/api/v1/incidents/{incident_id}/close", Role.DISPATCHER,
                                        {"reason": "resolved"}, ok=(200, 409))  # fmt: skip
        if closed.get("status") == "closed":
            self.closed += 1

    async def run(self) -> None:
        """Owns the desk's pending actions: they stop with it."""
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

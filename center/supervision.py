"""Supervision: background tasks restarted with backoff, and a record of what is down right now.

A task that crashes is logged, counted and started again after a growing pause; while it waits, and
until it has run for a while again, it is listed as down, which turns ``/readyz`` to 503 with its name.
Scheduled jobs and embedded servers report into the same record. Shutdown is a policy: cancel, wait up
to a deadline, log what hung; ``stop()`` is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from core import metrics

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0
# a restarted task counts as healthy again after running this long without a crash
HEALTHY_AFTER_S = 10.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


def backoff_s(failures: int, first_s: float = BACKOFF_FIRST_S, most_s: float = BACKOFF_MAX_S) -> float:
    """The pause before restart number ``failures`` (1, 2, ...): doubling, capped."""
    return float(min(most_s, first_s * 2 ** min(max(failures - 1, 0), 30)))


class Failures:
    """What is down now, by name, each with a reason; an entry may lapse at a set time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down: dict[str, tuple[str, float]] = {}
        self.restarts: dict[str, int] = {}

    def down(self, name: str, reason: str, for_s: float = float("inf")) -> None:
        self._down[name] = (reason, self._clock() + for_s)

    def up(self, name: str) -> None:
        self._down.pop(name, None)

    def current(self) -> dict[str, str]:
        now = self._clock()
        return {name: reason for name, (reason, until) in sorted(self._down.items()) if now < until}


class Tasks:
    """Named, supervised background tasks of one center."""

    def __init__(self, failures: Failures | None = None) -> None:
        self.failures = failures or Failures()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = False

    def start(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` until it returns; an exception restarts it after a backoff."""
        self._tasks[name] = asyncio.create_task(self._supervise(name, work), name=name)

    async def _supervise(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            try:
                await work()
                self.failures.up(name)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopped:
                    return
                failures = 1 if loop.time() - started > HEALTHY_AFTER_S else failures + 1
                self.failures.restarts[name] = self.failures.restarts.get(name, 0) + 1
                metrics.TASK_RESTARTS.labels(task=name).inc()
                pause = backoff_s(failures)
                reason = f"crashed ({type(exc).__name__}: {exc}); restart {failures} in {pause:.1f} s"
                self.failures.down(name, reason, pause + HEALTHY_AFTER_S)
                log.exception("background task %s crashed; restarting in %.1f s", name, pause)
                await asyncio.sleep(pause)

    def problems(self) -> dict[str, str]:
        return self.failures.current()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if not self._tasks:
            return
        # cancel again until each has stopped: a cancellation can be lost (on Python 3.11 an
        # asyncio.timeout expiring at the same moment turns it into a TimeoutError, which a task that
        # retries on errors survives), and a task must never outlive the pools it uses
        pending = set(self._tasks.values())
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE_S
        while pending and asyncio.get_running_loop().time() < deadline:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in pending:
            log.error("task %s did not stop within %.0f s", task.get_name(), SHUTDOWN_GRACE_S)

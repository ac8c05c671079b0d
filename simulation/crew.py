"""Named tasks owned together: started by name, watched for a failure, stopped with a deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Crew:
    def __init__(self, grace_s: float = 5.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._grace_s = grace_s
        self._stopped = False

    def start(self, name: str, work: Callable[[], Awaitable[None]], delay_s: float = 0.0) -> None:
        if self._stopped:
            raise RuntimeError("the crew has been stopped")

        async def run() -> None:
            if delay_s:
                await asyncio.sleep(delay_s)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("simulation task %s failed", name)
                raise

        self._tasks[name] = asyncio.create_task(run(), name=name)

    def failure(self) -> BaseException | None:
        """The first error of a task that ended by failing, if any."""
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def stop(self) -> None:
        """Cancel everything, wait up to the grace period, log what did not stop. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self._grace_s)
        for task in pending:
            log.error("simulation task %s did not stop within %.0f s", task.get_name(), self._grace_s)

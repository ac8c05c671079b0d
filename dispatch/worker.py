"""A dispatcher task: reads the queue as one consumer of the group, handles, publishes, acknowledges.

An entry is acknowledged only after it was handled, so a task killed in between leaves it pending in
the group, where another task reclaims it after ``reclaim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from redis.exceptions import RedisError

from alerts.queue import AlertQueue, QueuedAlert
from core import logcontext, tracing
from core.errors import DomainError
from core.feed import Feed
from core.outages import TRANSIENT
from dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


def consumer_name(index: int) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{index}"


class DispatchWorker:
    def __init__(
        self, dispatcher: Dispatcher, queue: AlertQueue, feed: Feed, name: str, reclaim_idle_ms: int = 15_000
    ) -> None:
        self._dispatcher = dispatcher
        self._queue = queue
        self._feed = feed
        self.name = name
        self._reclaim_idle_ms = reclaim_idle_ms

    async def handle(self, item: QueuedAlert) -> None:
        """Handle one entry; acknowledge it once handled. A store that failed leaves it queued; an
        alert that cannot be handled at all raises an alarm instead of failing for ever."""
        with logcontext.bound(incident_id=item.incident_id, alert_id=item.alert_id):
            tracing.record("alert.queued", item.trace, item.queued_ns, stream=item.stream)
            with tracing.span("alert.dispatch", parent=item.trace, consumer=self.name):
                await self._handle(item)

    async def _handle(self, item: QueuedAlert) -> None:
        try:
            outcome, events = await self._dispatcher.handle(item)
        except TRANSIENT:
            # leave it unacknowledged: it is reclaimed and tried again
            log.exception("alert %s not handled; it stays queued", item.alert_id)
            return
        except Exception as exc:
            # the state refused what the alert asked for, or the alert met a defect: trying again
            # would meet the same, so a dispatcher hears of it now (the pending sweep still retries)
            log.exception("alert %s could not be dispatched", item.alert_id)
            why = exc.message if isinstance(exc, DomainError) else str(exc)
            if not await self._give_up(item, f"{type(exc).__name__}: {why}"):
                return
        else:
            # handled: never again for a feed that failed; the offers carry the trace to the sockets
            await self._feed.publish_committed(events, tracing.current())
            if outcome is not None:  # one line per alert dispatched (its incident id in the context)
                tracing.add(offered=len(outcome.offered))
                log.info("alert %s handled: %d units offered", item.alert_id, len(outcome.offered))
        await self._queue.ack(item)

    async def _give_up(self, item: QueuedAlert, reason: str) -> bool:
        """Hand the alert to a dispatcher as an alarm; False when that could not be recorded."""
        try:
            events = await self._dispatcher.give_up(item, reason)
        except Exception:
            log.exception("alarm for alert %s not recorded; it stays queued", item.alert_id)
            return False
        await self._feed.publish_committed(events)
        return True

    async def run(self) -> None:
        await self._queue.ensure_groups()
        since_reclaim = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - since_reclaim > self._reclaim_idle_ms / 3000:
                    since_reclaim = loop.time()
                    for item in await self._queue.reclaim(self.name, self._reclaim_idle_ms):
                        await self.handle(item)
                for item in await self._queue.take(self.name):
                    await self.handle(item)
            except (RedisError, OSError):
                log.warning("dispatch queue unreachable; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                await self._recreate_groups()

    async def _recreate_groups(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._queue.ensure_groups()

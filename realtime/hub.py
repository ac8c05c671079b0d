"""Fan-out: one feed reader per process feeding one bounded queue per connection.

A connection whose queue is full is not waited for: it is marked for resync (it gets a fresh snapshot)
and its backlog dropped, so a stalled screen never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from core.feed import Feed, FeedItem

log = logging.getLogger(__name__)

Filter = Callable[[FeedItem], bool]
READ_BATCH = 200


class Subscription:
    def __init__(self, wants: Filter | None, maxsize: int) -> None:
        self.queue: asyncio.Queue[FeedItem] = asyncio.Queue(maxsize)
        self.wants = wants
        self.resync = asyncio.Event()

    def offer(self, item: FeedItem) -> None:
        if self.resync.is_set() or (self.wants is not None and not self.wants(item)):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.lost()

    def lost(self) -> None:
        """Drop the backlog; the connection must start over from a snapshot."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.resync.set()


class Hub:
    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._subs: set[Subscription] = set()
        self.epoch = ""
        self.seq = 0
        self.ready = asyncio.Event()

    def subscribe(self, wants: Filter | None = None, maxsize: int = 1000) -> Subscription:
        sub = Subscription(wants, maxsize)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def connections(self) -> int:
        return len(self._subs)

    async def run(self) -> None:
        while True:
            try:
                self.epoch, self.seq = await self.feed.head()
                self.ready.set()
                await self._follow()
            except (RedisError, OSError):
                log.warning("live feed unreachable; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def _follow(self) -> None:
        while True:
            # small reads, and a yield after each: a burst then reaches the connections' senders in
            # pieces their queues can hold, so only a client that really stalls falls behind
            items = await self.feed.read(self.seq, block_ms=2000, count=READ_BATCH)
            if not items:
                epoch, head = await self.feed.head()
                if epoch != self.epoch or head < self.seq:
                    # Redis lost the feed: every client starts over from a snapshot
                    log.warning("live feed was reset; clients will resync")
                    self.epoch, self.seq = epoch, head
                    for sub in self._subs:
                        sub.lost()
                continue
            for item in items:
                self.seq = item.seq
                for sub in list(self._subs):
                    sub.offer(item)
            await asyncio.sleep(0)

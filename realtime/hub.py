"""Fan-out: one feed reader per process feeding one bounded queue per connection.

A connection whose queue is full is not waited for: it is marked for resync (it gets a fresh snapshot)
and its backlog dropped, so a stalled screen never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from core import metrics
from core.feed import Feed, FeedItem

log = logging.getLogger(__name__)

Filter = Callable[[FeedItem], bool]
READ_BATCH = 200


class Subscription:
    def __init__(self, wants: Filter | None, maxsize: int, unit_id: int | None = None) -> None:
        self.queue: asyncio.Queue[FeedItem] = asyncio.Queue(maxsize)
        self.wants = wants
        self.unit_id = unit_id
        self.incidents: set[int] = set()  # followed besides the unit's own events (hub.follow)
        self.resync = asyncio.Event()

    def offer(self, item: FeedItem) -> None:
        if self.resync.is_set() or (self.wants is not None and not self.wants(item)):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            metrics.SLOW_CLIENTS_DROPPED.labels(socket=metrics.socket_kind(self.unit_id)).inc()
            self.lost()

    def lost(self) -> None:
        """Drop the backlog; the connection must start over from a snapshot."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.resync.set()


class Hub:
    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._subs: set[Subscription] = set()  # every event (screens)
        # only events about one unit (units' sockets), found by the event's unit id: with thousands of
        # units connected, an event costs one lookup instead of one filter call per socket
        self._by_unit: dict[int, set[Subscription]] = {}
        # and events about the incidents a unit is on (another unit sent, the incident corrected)
        self._by_incident: dict[int, set[Subscription]] = {}
        self.epoch = ""
        self.seq = 0
        self.ready = asyncio.Event()

    def subscribe(
        self, wants: Filter | None = None, maxsize: int = 1000, unit_id: int | None = None
    ) -> Subscription:
        """Every event (``wants`` may narrow it), or with ``unit_id`` only events about that unit."""
        sub = Subscription(wants, maxsize, unit_id)
        if unit_id is None:
            self._subs.add(sub)
        else:
            self._by_unit.setdefault(unit_id, set()).add(sub)
        metrics.SOCKET_CONNECTIONS.labels(socket=metrics.socket_kind(unit_id)).inc()
        return sub

    def follow(self, sub: Subscription, incident_id: int) -> None:
        """Also give ``sub`` every event about this incident."""
        sub.incidents.add(incident_id)
        self._by_incident.setdefault(incident_id, set()).add(sub)

    def unfollow(self, sub: Subscription, incident_id: int) -> None:
        sub.incidents.discard(incident_id)
        subs = self._by_incident.get(incident_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_incident[incident_id]

    def unsubscribe(self, sub: Subscription) -> None:
        for incident_id in list(sub.incidents):
            self.unfollow(sub, incident_id)
        subs = self._subs if sub.unit_id is None else self._by_unit.get(sub.unit_id, set())
        if sub not in subs:
            return  # unsubscribed already
        subs.discard(sub)
        metrics.SOCKET_CONNECTIONS.labels(socket=metrics.socket_kind(sub.unit_id)).dec()
        if sub.unit_id is not None and not subs:
            del self._by_unit[sub.unit_id]

    def _all(self) -> list[Subscription]:
        return [*self._subs, *(s for subs in self._by_unit.values() for s in subs)]

    @property
    def connections(self) -> int:
        return len(self._subs) + sum(len(s) for s in self._by_unit.values())

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
                    for sub in self._all():
                        sub.lost()
                continue
            for item in items:
                self.seq = item.seq
                for sub in list(self._subs):
                    _offer(sub, item)
                targets: set[Subscription] = set()
                unit_id = item.payload.get("unit_id")
                if isinstance(unit_id, int) and unit_id in self._by_unit:
                    targets.update(self._by_unit[unit_id])
                incident_id = item.payload.get("incident_id")
                if isinstance(incident_id, int) and incident_id in self._by_incident:
                    targets.update(self._by_incident[incident_id])
                for sub in targets:  # once each, about its unit or its incident or both
                    _offer(sub, item)
            await asyncio.sleep(0)


def _offer(sub: Subscription, item: FeedItem) -> None:
    """One connection's filter failing on an event costs that connection a resync, never the reader
    (which every connection of the process depends on)."""
    try:
        sub.offer(item)
    except Exception:
        log.exception("a connection's filter failed on event %d; it will resync", item.seq)
        sub.lost()

"""The two socket sessions once authenticated: ``/ws/ops`` (screens, dispatchers) and ``/ws/unit``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.feed import PRIVATE, Feed, FeedItem
from realtime.hub import Hub, Subscription

log = logging.getLogger(__name__)

SnapshotSource = Callable[[], Awaitable[dict[str, Any]]]
HEARTBEAT_S = 20.0


def frame(kind: str, **body: Any) -> str:
    return orjson.dumps({"type": kind, **body}).decode()


def event_frame(item: FeedItem, redact: bool = False) -> str:
    """The item as a frame; encoded once per item, however many connections send it."""
    redact = redact and PRIVATE in item.payload
    encoded = item.frames.get(redact)
    if encoded is None:
        payload = {k: v for k, v in item.payload.items() if k != PRIVATE} if redact else item.payload
        encoded = item.frames[redact] = orjson.dumps({"type": "event", "seq": item.seq, **payload}).decode()
    return encoded


async def _send(ws: WebSocket, data: str) -> None:
    await ws.send_text(data)


async def pump(
    ws: WebSocket, sub: Subscription, on_resync: Callable[[], Awaitable[None]], redact: bool = True
) -> None:
    """Forward a subscription to the socket, with heartbeats; resync when the hub says so."""
    while True:
        if sub.resync.is_set():
            sub.resync.clear()
            await on_resync()
            continue
        if not sub.queue.empty():  # the common case under load: no waiting machinery per frame
            await _send(ws, event_frame(sub.queue.get_nowait(), redact))
            continue
        getter = asyncio.ensure_future(sub.queue.get())
        resync = asyncio.ensure_future(sub.resync.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, resync}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:  # also when the session ends while waiting: leave no task behind
            for task in (getter, resync):
                if not task.done():
                    task.cancel()
        if getter in done:
            await _send(ws, event_frame(getter.result(), redact))
        elif not done:
            await _send(ws, frame("ping"))


async def ops_session(
    ws: WebSocket, hub: Hub, feed: Feed, snapshot_at: Callable[[int], Awaitable[dict[str, Any]]],
    resume: dict[str, Any] | None,
    sees_caller_data: bool,
) -> None:  # fmt: skip
    """Snapshot (or what was missed), then ordered deltas until the client goes away. A wall screen
    (``sees_caller_data`` false) never gets callers' personal data."""
    redact = not sees_caller_data
    await hub.ready.wait()
    sub = hub.subscribe()  # before reading state, so nothing falls between snapshot and deltas
    try:

        async def send_snapshot() -> None:
            epoch, seq = await feed.head()
            state = await snapshot_at(seq)
            await _send(ws, frame("snapshot", epoch=epoch, seq=seq, state=state))
            # deltas already queued up to the snapshot's seq are in it
            kept = [i for i in _drain(sub) if i.seq > seq]
            for item in kept:
                sub.queue.put_nowait(item)

        missed = None
        if resume and resume.get("epoch") == hub.epoch and isinstance(resume.get("seq"), int):
            missed = await feed.since(resume["seq"])
        if missed is None:
            await send_snapshot()
        else:
            last = resume["seq"] if resume else 0
            await _send(ws, frame("resumed", epoch=hub.epoch, seq=last))
            queued = _drain(sub)
            for item in missed:
                await _send(ws, event_frame(item, redact))
                last = item.seq
            for item in queued:
                if item.seq > last:
                    sub.queue.put_nowait(item)
        await until_first_ends(pump(ws, sub, send_snapshot, redact), _discard_incoming(ws))
    finally:
        hub.unsubscribe(sub)


async def until_first_ends(*work: Awaitable[None]) -> None:
    """Run a connection's sender and receiver; when one stops (peer gone, error), stop the other."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        exc = task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            raise exc


def _drain(sub: Subscription) -> list[FeedItem]:
    items = []
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


async def _discard_incoming(ws: WebSocket) -> None:
    # screens only listen; reading keeps pings/close handled
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()


MessageHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class RateLimit:
    """A token bucket: ``rate`` messages a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.at = asyncio.get_running_loop().time()

    def allow(self) -> bool:
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


async def unit_session(
    ws: WebSocket, hub: Hub, unit_id: int, hello: SnapshotSource, handle: MessageHandler
) -> None:
    """Only this unit's offers and updates; positions, acknowledgements and status come back in."""
    await hub.ready.wait()

    def about_me(item: FeedItem) -> bool:
        return str(item.payload.get("kind", "")).startswith(("assignment.", "unit."))

    sub = hub.subscribe(about_me, maxsize=200, unit_id=unit_id)
    try:

        async def send_hello() -> None:
            await _send(ws, frame("hello", seq=hub.seq, **(await hello())))

        await send_hello()
        limit = RateLimit(rate=20, burst=40)

        async def receive() -> None:
            while True:
                raw = await ws.receive_text()
                try:
                    message = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    message = None
                ref = message.get("ref") if isinstance(message, dict) else None
                if not limit.allow():
                    reason = "rate limit: too many messages, slow down"
                    await _send(ws, frame("error", reason=reason, ref=ref))
                    continue
                if not isinstance(message, dict):
                    reason = "not JSON" if message is None else "a message must be a JSON object"
                    await _send(ws, frame("error", reason=reason, ref=None))
                    continue
                await _send(ws, orjson.dumps(await handle(message)).decode())

        await until_first_ends(pump(ws, sub, send_hello), receive())
    finally:
        hub.unsubscribe(sub)

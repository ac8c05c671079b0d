"""The two socket sessions once authenticated: ``/ws/ops`` (screens, dispatchers) and ``/ws/unit``.

What a client sends is read with ``receive_text``: a binary frame or a message over ``MAX_MESSAGE_BYTES``
raises ``CloseSocket``, which the front door turns into a close with that code and reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.feed import PRIVATE, Feed, FeedItem
from realtime.hub import Hub, Subscription

log = logging.getLogger(__name__)

SnapshotSource = Callable[[], Awaitable[dict[str, Any]]]
HEARTBEAT_S = 20.0
# the longest message a client may send (a unit's messages are ~100 bytes, an auth message ~1 KB)
MAX_MESSAGE_BYTES = 16 * 1024
# how long a new connection waits for this process's feed reader before giving up with 1011
READY_WAIT_S = 10.0

# close codes (RFC 6455 section 7.4.1)
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class CloseSocket(Exception):
    """Raised anywhere in a session: the front door closes the socket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


async def receive_text(ws: WebSocket, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """The next text message; ``WebSocketDisconnect`` when the peer is gone, ``CloseSocket`` for a
    binary frame (1003) or one longer than ``max_bytes`` (1009). A text frame that is not UTF-8 never
    gets here: the server's WebSocket layer closes the connection with 1007 itself."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if not isinstance(text, str):
        raise CloseSocket(UNSUPPORTED_DATA, "binary frames are not accepted: send JSON as text")
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise CloseSocket(MESSAGE_TOO_BIG, f"a message may be at most {max_bytes} bytes")
    return text


async def wait_ready(hub: Hub) -> None:
    """Wait for the feed reader's first position; 1011 if it does not come (Redis unreachable)."""
    try:
        await asyncio.wait_for(hub.ready.wait(), READY_WAIT_S)
    except TimeoutError:
        raise CloseSocket(INTERNAL_ERROR, "the live feed is not available yet; reconnect shortly") from None


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
    ws: WebSocket, sub: Subscription, on_resync: Callable[[], Awaitable[None]], redact: bool = True,
    after: Callable[[FeedItem], None] | None = None,
) -> None:  # fmt: skip
    """Forward a subscription to the socket, with heartbeats; resync when the hub says so. ``after``
    sees each item once it is sent (and may end the session by raising ``CloseSocket``)."""

    async def forward(item: FeedItem) -> None:
        await _send(ws, event_frame(item, redact))
        if after is not None:
            after(item)

    while True:
        if sub.resync.is_set():
            sub.resync.clear()
            await on_resync()
            continue
        if not sub.queue.empty():  # the common case under load: no waiting machinery per frame
            await forward(sub.queue.get_nowait())
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
            await forward(getter.result())
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
    await wait_ready(hub)
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
        last = _resume_seq(resume, hub.epoch)
        if last is not None:
            _, head = await feed.head()
            # a position ahead of the feed is not one this center gave: start over from a snapshot
            missed = await feed.since(last) if last <= head else None
        if missed is None or last is None:
            await send_snapshot()
        else:
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


def _resume_seq(resume: dict[str, Any] | None, epoch: str) -> int | None:
    """The feed position a client asks to resume from, if it is one this feed could have given."""
    if not resume or resume.get("epoch") != epoch:
        return None
    seq = resume.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        return None
    return seq


def _drain(sub: Subscription) -> list[FeedItem]:
    items = []
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


async def _discard_incoming(ws: WebSocket) -> None:
    # screens only listen; reading keeps pings/close handled (and refuses binary or oversized frames)
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await receive_text(ws)


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


def error_frame(
    reason: str, ref: Any, code: str, field: str | None = None, retry: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The one shape of a refused message on ``/ws/unit``: ``code`` says what kind of refusal,
    ``field`` which field (when one is at fault), ``retry`` whether sending the same again may work.
    ``extra`` (e.g. ``current`` and ``allowed`` of a status conflict) never hides those keys."""
    base = {"type": "error", "ref": ref, "reason": reason, "code": code, "field": field, "retry": retry}
    return {**extra, **base} if extra else base


def shown(value: Any, limit: int = 40) -> str:
    """A client's value quoted in a reason, cut short: a reason never echoes a whole message back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_REF_CHARS = 64


def valid_ref(ref: Any) -> bool:
    """A ``ref`` the answer may echo: null, an integer, or a short string without control characters."""
    if ref is None:
        return True
    if isinstance(ref, int) and not isinstance(ref, bool):
        return -(2**63) <= ref < 2**63
    return isinstance(ref, str) and len(ref) <= MAX_REF_CHARS and ref.isprintable()


_NOT_JSON = object()


async def unit_session(
    ws: WebSocket, hub: Hub, unit_id: int, hello: SnapshotSource, handle: MessageHandler
) -> None:
    """Only this unit's offers and updates; positions, acknowledgements and status come back in. A bad
    message gets an error frame and the session goes on; the unit's retirement ends it (1008)."""
    await wait_ready(hub)

    def about_me(item: FeedItem) -> bool:
        return str(item.payload.get("kind", "")).startswith(("assignment.", "unit."))

    def retired(item: FeedItem) -> None:
        if item.payload.get("kind") == "unit.retired":
            raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} was retired")

    sub = hub.subscribe(about_me, maxsize=200, unit_id=unit_id)
    try:

        async def send_hello() -> None:
            await _send(ws, frame("hello", seq=hub.seq, **(await hello())))

        await send_hello()
        limit = RateLimit(rate=20, burst=40)

        async def answer(message: Any) -> dict[str, Any]:
            ref = message.get("ref") if isinstance(message, dict) else None
            ref_ok = valid_ref(ref)
            echo = ref if ref_ok else None
            if not limit.allow():  # before anything else: a flood of garbage is limited too
                reason = "rate limit: too many messages, slow down"
                return error_frame(reason, echo, "rate_limited", retry=True)
            if message is _NOT_JSON:
                return error_frame("not JSON", None, "bad_message")
            if not isinstance(message, dict):
                return error_frame("a message must be a JSON object", None, "bad_message")
            if not ref_ok:
                reason = f"ref must be null, an integer or at most {MAX_REF_CHARS} printable characters"
                return error_frame(reason, None, "invalid", field="ref")
            return await handle(message)

        async def receive() -> None:
            while True:
                raw = await receive_text(ws)
                try:
                    message: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:  # also nesting deeper than orjson's limit
                    message = _NOT_JSON
                await _send(ws, orjson.dumps(await answer(message)).decode())

        await until_first_ends(pump(ws, sub, send_hello, after=retired), receive())
    finally:
        hub.unsubscribe(sub)

"""What both sockets share: the front door (Origin allow-list, the token in the first message, never
in the URL, so it stays out of access logs), reading bounded text frames, encoding frames once per event,
the pump from a hub subscription with heartbeats, and the one shape of an error frame.

Every way a connection can end becomes a close with a code and a reason (``guarded``), never an
exception escaping into the ASGI server (docs/api.md, "Sockets", lists the codes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import orjson
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.feed import PRIVATE, FeedItem
from core.tokens import InvalidToken, Principal, TokenSigner
from realtime.hub import Hub, Subscription

log = logging.getLogger(__name__)

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


AUTH_TIMEOUT_S = 10.0
# what a store that cannot be reached looks like: the client should reconnect (or send again) later
UNAVAILABLE = (RedisError, OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


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


async def send(ws: WebSocket, data: str) -> None:
    await ws.send_text(data)


async def pump(
    ws: WebSocket, sub: Subscription, on_resync: Callable[[], Awaitable[None]], redact: bool = True,
    after: Callable[[FeedItem], None] | None = None, render: Callable[[FeedItem], str | None] | None = None,
) -> None:  # fmt: skip
    """Forward a subscription to the socket, with heartbeats; resync when the hub says so. ``render``
    turns an item into its frame (None: not sent; default: the event frame); ``after`` sees each item
    once it is handled (and may end the session by raising ``CloseSocket``)."""

    async def forward(item: FeedItem) -> None:
        data = event_frame(item, redact) if render is None else render(item)
        if data is not None:
            await send(ws, data)
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
            await send(ws, frame("ping"))


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


def _origin_allowed(ws: WebSocket, allowed: frozenset[str]) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: the token alone decides
    own = f"{ws.url.scheme.replace('ws', 'http')}://{ws.headers.get('host', '')}"
    return origin == own or origin in allowed


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    """Close with ``code`` and ``reason`` (cut to what a close frame holds); a peer already gone is fine."""
    cut = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
    with contextlib.suppress(Exception):
        await ws.close(code, cut)


async def guarded(ws: WebSocket, path: str, session: Callable[[], Awaitable[None]]) -> None:
    """Run one connection; every way it can end becomes a close with a code and a reason."""
    try:
        await session()
    except WebSocketDisconnect:
        pass  # the peer went away
    except CloseSocket as exc:
        await _close(ws, exc.code, exc.reason)
    except UNAVAILABLE as exc:
        log.warning("%s: a store is unreachable (%s); closing with %d", path, exc, INTERNAL_ERROR)
        await _close(ws, INTERNAL_ERROR, "the center cannot reach its stores just now; reconnect shortly")
    except Exception:
        log.exception("%s: unexpected error; closing with %d", path, INTERNAL_ERROR)
        await _close(ws, INTERNAL_ERROR, "internal error; reconnect shortly")


async def authenticate(
    ws: WebSocket, signer: TokenSigner, allowed_origins: frozenset[str]
) -> tuple[Principal, dict[str, Any]]:
    """Accept, then expect ``{"type": "auth", "token": ...}`` first; ``CloseSocket`` 1008 otherwise
    (1003 for a binary frame, 1009 for an oversized one)."""
    if not _origin_allowed(ws, allowed_origins):
        raise CloseSocket(POLICY_VIOLATION, "origin not allowed")
    await ws.accept()
    try:
        raw = await asyncio.wait_for(receive_text(ws), AUTH_TIMEOUT_S)
    except TimeoutError:
        raise CloseSocket(POLICY_VIOLATION, "authentication failed: no auth message in time") from None
    try:
        message = orjson.loads(raw)
        if not isinstance(message, dict) or message.get("type") != "auth":
            raise ValueError('the first message must be {"type": "auth", "token": ...}')
        token = message.get("token")
        if not isinstance(token, str):
            raise ValueError("token missing")
        return signer.verify(token), message
    except (ValueError, InvalidToken) as exc:  # orjson.JSONDecodeError is a ValueError
        raise CloseSocket(POLICY_VIOLATION, f"authentication failed: {exc}") from None

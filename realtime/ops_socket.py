"""``/ws/ops``: the operational picture for wall screens and dispatchers. A snapshot (or what was
missed since the position a client resumes from), then ordered deltas until the client goes away."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from core.feed import Feed, FeedItem
from realtime.hub import Hub, Subscription
from realtime.wire import event_frame, frame, pump, receive_text, send, until_first_ends, wait_ready


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
            await send(ws, frame("snapshot", epoch=epoch, seq=seq, state=state))
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
            await send(ws, frame("resumed", epoch=hub.epoch, seq=last))
            queued = _drain(sub)
            for item in missed:
                await send(ws, event_frame(item, redact))
                last = item.seq
            for item in queued:
                if item.seq > last:
                    sub.queue.put_nowait(item)
        await until_first_ends(pump(ws, sub, send_snapshot, redact), _discard_incoming(ws))
    finally:
        hub.unsubscribe(sub)


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

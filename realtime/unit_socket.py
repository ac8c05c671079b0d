"""``/ws/unit``: one unit's socket, whole. After the front door (``realtime/wire.py``) it sends a hello
(the unit, its active assignments, each with its incident, and its open panic), then this unit's offers
and updates, and every change of an incident it is on as an ``incident_update`` frame with the words for
the crew (``realtime/incident_news.py``); positions, acknowledgements, statuses and panics come back in,
each answered on the socket. A bad message gets an error frame and the session goes on; the unit's
retirement ends it (1008).

Refusals stay on the socket: a bad field or a refused step is permanent (``retry`` false), a store out
of reach is not. This is an edge: the events of what a message changed are published here."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

import asyncpg
import orjson
from starlette.websockets import WebSocket

from alerts import incidents
from alerts.panic import Panics, open_panic_of
from core import tracing
from core.bounds import MAX_ID, MAX_LAT, MAX_LON, fix_time
from core.errors import Conflict, DomainError, Invalid, NotFound
from core.feed import Feed, FeedItem
from core.logcontext import bind as bind_log_ids
from core.tokens import Principal
from dispatch import assignments
from dispatch.assignments import STEPS
from dispatch.lifecycle import Lifecycle
from realtime.hub import Hub
from realtime.incident_news import news
from realtime.wire import (
    MAX_REF_CHARS,
    POLICY_VIOLATION,
    UNAVAILABLE,
    CloseSocket,
    RateLimit,
    error_frame,
    event_frame,
    frame,
    pump,
    receive_text,
    send,
    shown,
    until_first_ends,
    valid_ref,
    wait_ready,
)
from units.live import Fix
from units.positions import PositionService
from units.roster import Roster
from units.status import SELF_REPORTABLE, UnitStatus

log = logging.getLogger(__name__)

LAT_RANGE = f"lat must be a number in -{MAX_LAT}..{MAX_LAT}"
LON_RANGE = f"lon must be a number in -{MAX_LON:g}..{MAX_LON:g}"
# a fix time must be epoch seconds a datetime can hold; units/positions.py decides what is too far off
MAX_AT = 1e11


@dataclass(frozen=True)
class UnitDesk:
    """What a unit's socket works with."""

    pool: asyncpg.Pool
    roster: Roster
    positions: PositionService
    lifecycle: Lifecycle
    hub: Hub
    feed: Feed
    panics: Panics


async def unit_session(ws: WebSocket, desk: UnitDesk, who: Principal) -> None:
    """The session of an authenticated unit token: ``CloseSocket`` for a token that names no unit,
    or a unit that does not exist or is retired."""
    unit_id = who.unit_id
    if not _is_id(unit_id):
        raise CloseSocket(POLICY_VIOLATION, "the token names no valid unit")
    bind_log_ids(unit_id=unit_id)  # this connection's task: every line it logs names the unit
    await wait_ready(desk.hub)

    def mine(item: FeedItem) -> bool:
        return item.payload.get("unit_id") == unit_id

    def wanted(item: FeedItem) -> bool:
        if mine(item):
            return str(item.payload.get("kind", "")).startswith(("assignment.", "unit."))
        return item.payload.get("incident_id") in sub.incidents  # about an incident it is on

    def render(item: FeedItem) -> str | None:
        if mine(item):
            return event_frame(item, redact=True)
        text = news(item.payload, unit_id)
        if text is None:
            return None
        data = item.payload.get("data") or {}
        return frame("incident_update", seq=item.seq, incident_id=item.payload.get("incident_id"),
                     event=item.payload.get("kind"), text=text, changes=data.get("changes"))  # fmt: skip

    def after(item: FeedItem) -> None:
        kind, incident_id = item.payload.get("kind"), item.payload.get("incident_id")
        if kind == "unit.retired" and mine(item):
            raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} was retired")
        if not isinstance(incident_id, int):
            return
        if mine(item) and kind == "assignment.offered":
            desk.hub.follow(sub, incident_id)
            if item.trace:  # from this process's reading of the feed to the frame sent
                assignment = _assignment_of(item)
                tracing.record("offer.delivered", item.trace, item.read_ns, assignment_id=assignment)
        elif (mine(item) and kind in _OFF_IT) or kind == "incident.closed":
            desk.hub.unfollow(sub, incident_id)

    sub = desk.hub.subscribe(wanted, maxsize=200, unit_id=unit_id)
    try:

        async def send_hello() -> None:
            hello = await _hello(desk, unit_id)
            for a in hello["assignments"]:  # a reconnecting phone follows its incidents again
                desk.hub.follow(sub, a["incident_id"])
            await send(ws, frame("hello", seq=desk.hub.seq, **hello))

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
            return await _message(desk, who, unit_id, message)

        async def receive() -> None:
            while True:
                raw = await receive_text(ws)
                try:
                    message: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:  # also nesting deeper than orjson's limit
                    message = _NOT_JSON
                await send(ws, orjson.dumps(await answer(message)).decode())

        await until_first_ends(pump(ws, sub, send_hello, after=after, render=render), receive())
    finally:
        desk.hub.unsubscribe(sub)


_NOT_JSON = object()
# the unit's own assignment ended: its incident is no longer news for it
_OFF_IT = frozenset({f"assignment.{s}" for s in ("declined", "timed_out", "cancelled", "cleared")})


async def _hello(desk: UnitDesk, unit_id: int) -> dict[str, Any]:
    try:
        me = await desk.roster.get(unit_id)
    except NotFound:
        raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} does not exist") from None
    if me.retired_at is not None:
        raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} is retired")
    active = await assignments.active_for_unit(desk.pool, unit_id)
    # each with its incident, so that a phone that reconnects still knows where to go
    sent = [a.as_json() | {"incident": (await incidents.get(desk.pool, a.incident_id)).as_json()}
            for a in active]  # fmt: skip
    panic = await open_panic_of(desk.pool, unit_id)  # a phone reloaded mid-panic keeps sending fast
    return {"unit": me.as_json(), "assignments": sent, "panic": panic.as_json() if panic else None}


async def _message(desk: UnitDesk, who: Principal, unit_id: int, m: dict[str, Any]) -> dict[str, Any]:
    """One message from a unit: position, an acknowledgement, a status, or a panic (and its cancel,
    with ``confirm: true``). Refusals stay on the socket:
    a bad field or a refused step is permanent (``retry`` false), a store out of reach is not."""
    kind = m.get("type")
    ref = m.get("ref")
    field: str | None = None  # the field a refusal from the domain is about, unless it names one
    try:
        if kind == "position":
            lat, lon, at = m.get("lat"), m.get("lon"), m.get("at")
            if not _number(lat, -MAX_LAT, MAX_LAT):
                return error_frame(LAT_RANGE, ref, "invalid", "lat")
            if not _number(lon, -MAX_LON, MAX_LON):
                return error_frame(LON_RANGE, ref, "invalid", "lon")
            try:
                when = time.time() if at is None else fix_time(at)
            except ValueError as bad:
                return error_frame(f"at {bad}", ref, "invalid", "at")
            if when > MAX_AT:
                return error_frame("at: not a time a phone could have", ref, "invalid", "at")
            field = "at"
            fix = Fix(unit_id, float(lat), float(lon), when)  # type: ignore[arg-type]
            verdict = await desk.positions.report_one(fix)
            return {"type": "ack", "ref": ref, "verdict": verdict.verdict}
        if isinstance(kind, str) and kind in STEPS:
            assignment_id = m.get("assignment_id")
            if not _is_id(assignment_id):
                reason = f"assignment_id must be an integer in 1..{MAX_ID}"
                return error_frame(reason, ref, "invalid", "assignment_id")
            field = "assignment_id"
            a, events = await desk.lifecycle.advance(assignment_id, STEPS[kind], who.actor, unit_id=unit_id)
            await desk.feed.publish(events)
            return {"type": "ack", "ref": ref, "assignment": a.as_json()}
        if kind == "panic":
            return await _panic(desk, who, unit_id, m)
        if kind == "panic_cancel":
            if m.get("confirm") is not True:
                return error_frame("a panic is cancelled only with confirm: true", ref, "invalid", "confirm")
            _, events = await desk.panics.cancel(unit_id, who.actor, True)
            await desk.feed.publish(events)
            return {"type": "ack", "ref": ref, "panic": None}
        if kind == "status":
            value = m.get("status")
            try:
                status = UnitStatus(value) if isinstance(value, str) else None
            except ValueError:
                status = None
            if status is None:
                return error_frame(f"unknown status {shown(value)}", ref, "invalid", "status")
            if status not in SELF_REPORTABLE:
                return error_frame(f"status {status.value} follows assignments", ref, "invalid", "status")
            field = "status"
            unit, events = await desk.lifecycle.report_status(unit_id, status, who.actor)
            await desk.feed.publish(events)
            return {"type": "ack", "ref": ref, "status": unit.status.value}
        return error_frame(f"unknown message type {shown(kind)}", ref, "bad_message", "type")
    except DomainError as exc:
        data = dict(exc.data)
        named = data.pop("field", None)
        field = str(named) if named is not None else field
        return error_frame(exc.message, ref, _code(exc), field, extra=data)
    except UNAVAILABLE:
        log.warning("a unit's message could not be handled now", exc_info=True)
        reason = "the center could not do this just now; send it again"
        return error_frame(reason, ref, "unavailable", retry=True)


async def _panic(desk: UnitDesk, who: Principal, unit_id: int, m: dict[str, Any]) -> dict[str, Any]:
    """The unit needs help: at the position it sends with the panic (reported as a fix too), or at its
    last fix. A position the center will not take as a fix still places the panic."""
    ref, lat, lon = m.get("ref"), m.get("lat"), m.get("lon")
    at = None
    if lat is not None or lon is not None:
        if not _number(lat, -MAX_LAT, MAX_LAT):
            return error_frame(LAT_RANGE, ref, "invalid", "lat")
        if not _number(lon, -MAX_LON, MAX_LON):
            return error_frame(LON_RANGE, ref, "invalid", "lon")
        at = (float(lat), float(lon))  # type: ignore[arg-type]
        try:
            await desk.positions.report_one(Fix(unit_id, at[0], at[1], time.time()))
        except (DomainError, *UNAVAILABLE):
            log.warning("the position sent with unit %s's panic was not taken as a fix", unit_id)
    panic, new, events = await desk.panics.raise_(unit_id, who.actor, "socket", at)
    await desk.feed.publish_committed(events)
    return {"type": "ack", "ref": ref, "panic": panic.as_json(), "repeated": not new}


def _code(exc: DomainError) -> str:
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Conflict):
        return "conflict"
    return "invalid" if isinstance(exc, Invalid) else "refused"


def _number(value: Any, low: float, high: float) -> bool:
    """A finite JSON number (not a boolean) in low..high."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        and low <= value <= high
    )  # fmt: skip


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _assignment_of(item: FeedItem) -> int:
    found = item.payload.get("assignment_id")
    return found if _is_id(found) else 0

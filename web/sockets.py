"""The sockets' front door: Origin allow-list, token in the first message (never in the URL, so it
stays out of access logs), role checks; then the realtime sessions take over.

Each handler is guarded: whatever goes wrong ends in a close with a code and a reason, never in an
exception escaping into the ASGI server (docs/api.md, "Sockets", lists the codes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

import asyncpg
import orjson
from fastapi import APIRouter, WebSocket
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnect

from alerts import incidents
from core.errors import Conflict, DomainError, Invalid, NotFound
from core.roles import SEES_CALLER_DATA, Role
from core.tokens import InvalidToken, Principal
from dispatch import assignments
from dispatch.assignments import STEPS
from realtime.sessions import (
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    CloseSocket,
    error_frame,
    ops_session,
    receive_text,
    shown,
    unit_session,
)
from units.live import Fix
from units.status import SELF_REPORTABLE, UnitStatus
from web.services import Services

router = APIRouter()
log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
OPS_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.DISPLAY, Role.CALL_TAKER})
# what a store that cannot be reached looks like: the client should reconnect (or send again) later
UNAVAILABLE = (RedisError, OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# ids are PostgreSQL bigints
MAX_ID = 2**63 - 1
# what Redis GEO can hold
MAX_LAT = 85.05112878
MAX_LON = 180
LAT_RANGE = f"lat must be a number in -{MAX_LAT}..{MAX_LAT}"
LON_RANGE = f"lon must be a number in -{MAX_LON}..{MAX_LON}"
# a fix time must be epoch seconds a datetime can hold; units/positions.py decides what is too far off
MAX_AT = 1e11
MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


def _origin_allowed(ws: WebSocket, svc: Services) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: the token alone decides
    own = f"{ws.url.scheme.replace('ws', 'http')}://{ws.headers.get('host', '')}"
    return origin == own or origin in svc.allowed_origins


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    """Close with ``code`` and ``reason`` (cut to what a close frame holds); a peer already gone is fine."""
    cut = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
    with contextlib.suppress(Exception):
        await ws.close(code, cut)


async def _guarded(ws: WebSocket, path: str, session: Callable[[], Awaitable[None]]) -> None:
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


async def _authenticate(ws: WebSocket, svc: Services) -> tuple[Principal, dict[str, Any]]:
    """Accept, then expect ``{"type": "auth", "token": ...}`` first; ``CloseSocket`` 1008 otherwise
    (1003 for a binary frame, 1009 for an oversized one)."""
    if not _origin_allowed(ws, svc):
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
        return svc.signer.verify(token), message
    except (ValueError, InvalidToken) as exc:  # orjson.JSONDecodeError is a ValueError
        raise CloseSocket(POLICY_VIOLATION, f"authentication failed: {exc}") from None


@router.websocket("/ws/ops")
async def ops(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services

    async def session() -> None:
        who, message = await _authenticate(ws, svc)
        if who.role not in OPS_ROLES:
            reason = f"role {who.role.value} may not watch the operational picture"
            raise CloseSocket(POLICY_VIOLATION, reason)
        resume = message.get("resume") if isinstance(message.get("resume"), dict) else None
        await ops_session(ws, svc.hub, svc.feed, svc.snapshots.at, resume, who.role in SEES_CALLER_DATA)

    await _guarded(ws, "/ws/ops", session)


@router.websocket("/ws/unit")
async def unit(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services

    async def session() -> None:
        who, _ = await _authenticate(ws, svc)
        if who.role is not Role.UNIT or who.unit_id is None:
            raise CloseSocket(POLICY_VIOLATION, "only a unit's token opens /ws/unit")
        unit_id = who.unit_id
        if not _is_id(unit_id):
            raise CloseSocket(POLICY_VIOLATION, "the token names no valid unit")

        async def hello() -> dict[str, Any]:
            try:
                me = await svc.roster.get(unit_id)
            except NotFound:
                raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} does not exist") from None
            if me.retired_at is not None:
                raise CloseSocket(POLICY_VIOLATION, f"unit {unit_id} is retired")
            active = await assignments.active_for_unit(svc.pool, unit_id)
            # each with its incident, so that a phone that reconnects still knows where to go
            sent = [a.as_json() | {"incident": (await incidents.get(svc.pool, a.incident_id)).as_json()}
                    for a in active]  # fmt: skip
            return {"unit": me.as_json(), "assignments": sent}

        async def handle(message: dict[str, Any]) -> dict[str, Any]:
            return await _unit_message(svc, who, unit_id, message)

        await unit_session(ws, svc.hub, unit_id, hello, handle)

    await _guarded(ws, "/ws/unit", session)


async def _unit_message(svc: Services, who: Principal, unit_id: int, m: dict[str, Any]) -> dict[str, Any]:
    """One message from a unit: position, an acknowledgement, or a status. Refusals stay on the socket:
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
            if at is not None and not _number(at, 0, MAX_AT):
                return error_frame("at must be the fix time in epoch seconds", ref, "invalid", "at")
            field = "at"
            fix = Fix(unit_id, float(lat), float(lon), float(at) if at is not None else time.time())  # type: ignore[arg-type]
            verdict = await svc.positions.report_one(fix)
            return {"type": "ack", "ref": ref, "verdict": verdict.verdict}
        if isinstance(kind, str) and kind in STEPS:
            assignment_id = m.get("assignment_id")
            if not _is_id(assignment_id):
                reason = f"assignment_id must be an integer in 1..{MAX_ID}"
                return error_frame(reason, ref, "invalid", "assignment_id")
            field = "assignment_id"
            a, events = await svc.lifecycle.advance(assignment_id, STEPS[kind], who.actor, unit_id=unit_id)
            await svc.feed.publish(events)
            return {"type": "ack", "ref": ref, "assignment": a.as_json()}
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
            unit, events = await svc.lifecycle.report_status(unit_id, status, who.actor)
            await svc.feed.publish(events)
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

"""The sockets' front door: Origin allow-list, token in the first message (never in the URL, so it
stays out of access logs), role checks; then the realtime sessions take over."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, WebSocket
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnect

from alerts import incidents
from core.errors import DomainError
from core.roles import SEES_CALLER_DATA, Role
from core.tokens import InvalidToken, Principal
from dispatch import assignments
from realtime.sessions import ops_session, unit_session
from units.live import Fix
from units.status import SELF_REPORTABLE, UnitStatus
from web.routes.assignments import STEPS
from web.services import Services

router = APIRouter()
log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
AUTH_TIMEOUT_S = 10.0
OPS_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.DISPLAY, Role.CALL_TAKER})


def _origin_allowed(ws: WebSocket, svc: Services) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: the token alone decides
    own = f"{ws.url.scheme.replace('ws', 'http')}://{ws.headers.get('host', '')}"
    return origin == own or origin in svc.allowed_origins


async def _authenticate(ws: WebSocket, svc: Services) -> tuple[Principal, dict[str, Any]] | None:
    """Accept, then expect ``{"type": "auth", "token": ...}`` first; refuse with 1008 otherwise."""
    if not _origin_allowed(ws, svc):
        await ws.close(POLICY_VIOLATION, "origin not allowed")
        return None
    await ws.accept()
    try:
        raw = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        message = orjson.loads(raw)
        if not isinstance(message, dict) or message.get("type") != "auth":
            raise ValueError('the first message must be {"type": "auth", "token": ...}')
        token = message.get("token")
        if not isinstance(token, str):
            raise ValueError("token missing")
        return svc.signer.verify(token), message
    except (TimeoutError, ValueError, InvalidToken, KeyError) as exc:
        await ws.close(POLICY_VIOLATION, f"authentication failed: {exc}"[:120])
    except WebSocketDisconnect:
        pass
    return None


@router.websocket("/ws/ops")
async def ops(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    auth = await _authenticate(ws, svc)
    if auth is None:
        return
    who, message = auth
    if who.role not in OPS_ROLES:
        await ws.close(POLICY_VIOLATION, f"role {who.role.value} may not watch the operational picture")
        return
    resume = message.get("resume") if isinstance(message.get("resume"), dict) else None

    with contextlib.suppress(WebSocketDisconnect):
        await ops_session(ws, svc.hub, svc.feed, svc.snapshots.at, resume, who.role in SEES_CALLER_DATA)


@router.websocket("/ws/unit")
async def unit(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services
    auth = await _authenticate(ws, svc)
    if auth is None:
        return
    who, _ = auth
    if who.role is not Role.UNIT or who.unit_id is None:
        await ws.close(POLICY_VIOLATION, "only a unit's token opens /ws/unit")
        return
    unit_id = who.unit_id

    async def hello() -> dict[str, Any]:
        me = await svc.roster.get(unit_id)
        active = await assignments.active_for_unit(svc.pool, unit_id)
        # each with its incident, so that a phone that reconnects still knows where to go
        sent = [a.as_json() | {"incident": (await incidents.get(svc.pool, a.incident_id)).as_json()}
                for a in active]  # fmt: skip
        return {"unit": me.as_json(), "assignments": sent}

    async def handle(message: dict[str, Any]) -> dict[str, Any]:
        return await _unit_message(svc, who, unit_id, message)

    with contextlib.suppress(WebSocketDisconnect):
        await unit_session(ws, svc.hub, unit_id, hello, handle)


async def _unit_message(svc: Services, who: Principal, unit_id: int, m: dict[str, Any]) -> dict[str, Any]:
    """One message from a unit: position, an acknowledgement, or a status. Errors stay on the socket."""
    kind = m.get("type")
    ref = m.get("ref")
    try:
        if kind == "position":
            lat, lon = m.get("lat"), m.get("lon")
            if not _number(lat, -90, 90) or not _number(lon, -180, 180):
                return _error("position needs lat in -90..90 and lon in -180..180", ref)
            at = m.get("at")
            if at is not None and not _number(at, 1, 1e11):
                return _error("at must be epoch seconds", ref)
            fix = Fix(unit_id, float(lat), float(lon), float(at) if at is not None else time.time())  # type: ignore[arg-type]
            verdict = await svc.positions.report_one(fix)
            return {"type": "ack", "ref": ref, "verdict": verdict.verdict}
        if kind in STEPS:
            assignment_id = m.get("assignment_id")
            if not isinstance(assignment_id, int):
                return _error("assignment_id must be an integer", ref)
            a = await svc.lifecycle.advance(assignment_id, STEPS[kind], who.actor, unit_id=unit_id)
            return {"type": "ack", "ref": ref, "assignment": a.as_json()}
        if kind == "status":
            try:
                status = UnitStatus(str(m.get("status")))
            except ValueError:
                return _error(f"unknown status {m.get('status')!r}", ref)
            if status not in SELF_REPORTABLE:
                return _error(f"status {status.value} follows assignments", ref)
            unit = await svc.lifecycle.report_status(unit_id, status, who.actor)
            return {"type": "ack", "ref": ref, "status": unit.status.value}
        return _error(f"unknown message type {kind!r}", ref)
    except DomainError as exc:
        return _error(exc.message, ref, **exc.data)
    except (RedisError, OSError, asyncpg.PostgresError):
        log.warning("a unit's message could not be handled now", exc_info=True)
        return _error("the center could not do this just now; send it again", ref, retry=True)


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _error(reason: str, ref: Any, **data: Any) -> dict[str, Any]:
    return {"type": "error", "reason": reason, "ref": ref, **data}

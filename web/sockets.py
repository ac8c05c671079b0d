"""The two sockets' routes: the front door (``realtime/wire.py``), a role check, then the session."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from core.roles import SEES_CALLER_DATA, Role
from realtime.ops_socket import ops_session
from realtime.unit_socket import unit_session
from realtime.wire import POLICY_VIOLATION, CloseSocket, authenticate, guarded
from web.services import Services

router = APIRouter()

OPS_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.DISPLAY, Role.CALL_TAKER})


@router.websocket("/ws/ops")
async def ops(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services

    async def session() -> None:
        who, message = await authenticate(ws, svc.signer, svc.allowed_origins)
        if who.role not in OPS_ROLES:
            reason = f"role {who.role.value} may not watch the operational picture"
            raise CloseSocket(POLICY_VIOLATION, reason)
        resume = message.get("resume") if isinstance(message.get("resume"), dict) else None
        await ops_session(ws, svc.hub, svc.feed, svc.snapshots.at, resume, who.role in SEES_CALLER_DATA)

    await guarded(ws, "/ws/ops", session)


@router.websocket("/ws/unit")
async def unit(ws: WebSocket) -> None:
    svc: Services = ws.app.state.services

    async def session() -> None:
        who, _ = await authenticate(ws, svc.signer, svc.allowed_origins)
        if who.role is not Role.UNIT or who.unit_id is None:
            raise CloseSocket(POLICY_VIOLATION, "only a unit's token opens /ws/unit")
        await unit_session(ws, svc.unit_desk, who)

    await guarded(ws, "/ws/unit", session)

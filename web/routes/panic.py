"""The panic button over HTTP: a unit's phone, a radio or a gateway raises it; a dispatcher acknowledges;
the unit or a dispatcher cancels it, with a confirmation."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from core.bounds import Latitude, Longitude, PathId
from core.errors import DomainError
from core.roles import Role
from core.tokens import Principal
from realtime.wire import UNAVAILABLE
from units.live import Fix
from web.answers.units import PanicOut
from web.auth import ServicesDep, allow, principal

router = APIRouter(prefix="/api/v1/units", tags=["units"])


class PanicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Latitude | None = Field(None, description="where the device is now; default: the unit's last fix")
    lon: Longitude | None = None


class CancelPanicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool = Field(description="must be true: a panic ends only deliberately")


def _for_the_unit(who: Principal, unit_id: int, dispatcher: bool = False) -> None:
    """The unit itself, whatever else its token may not do; a gateway (integration) for any unit;
    with ``dispatcher``, a dispatcher too; admins always. Never a wall screen."""
    if who.role in (Role.ADMIN, Role.INTEGRATION) or (dispatcher and who.role is Role.DISPATCHER):
        return
    if who.role is Role.DISPLAY or who.unit_id is None:
        raise HTTPException(403, f"role {who.role.value} may not do this")
    if who.unit_id != unit_id:
        raise HTTPException(403, "a unit may only raise or cancel its own panic")


async def _raiser(unit_id: PathId, who: Annotated[Principal, Depends(principal)]) -> Principal:
    _for_the_unit(who, unit_id)
    return who


async def _canceller(unit_id: PathId, who: Annotated[Principal, Depends(principal)]) -> Principal:
    _for_the_unit(who, unit_id, dispatcher=True)
    return who


# dependencies, so that the role is checked before the body is
Raiser = Annotated[Principal, Depends(_raiser)]
Canceller = Annotated[Principal, Depends(_canceller)]
Dispatcher = Annotated[Principal, Depends(allow(Role.DISPATCHER))]


@router.post(
    "/{unit_id}/panic",
    status_code=201,
    response_model=PanicOut,
    responses={200: {"model": PanicOut, "description": "the unit's panic was open already"}},
)
async def raise_panic(
    unit_id: PathId, svc: ServicesDep, who: Raiser, response: Response, body: PanicIn | None = None
) -> dict[str, Any]:  # fmt: skip
    """The unit needs help: a priority-1 incident at its position, its own service's nearest units
    offered at once; a second press while it is open returns the open one (200)."""
    at = None
    if body is not None and (body.lat is None) != (body.lon is None):
        raise HTTPException(422, "lat and lon come together, or neither")
    if body is not None and body.lat is not None and body.lon is not None:
        at = (body.lat, body.lon)
        # the screens see it move there too; a fix the center will not take never stops the panic
        with contextlib.suppress(DomainError, *UNAVAILABLE):
            await svc.positions.report_one(Fix(unit_id, body.lat, body.lon, time.time()))
    panic, new, events = await svc.panics.raise_(unit_id, who.actor, "http", at)
    await svc.feed.publish_committed(events)
    if not new:
        response.status_code = 200
    return panic.as_json() | {"repeated": not new}


@router.post("/{unit_id}/panic/acknowledge", response_model=PanicOut)
async def acknowledge_panic(unit_id: PathId, svc: ServicesDep, who: Dispatcher) -> dict[str, Any]:
    """A dispatcher has the panic: the unit is told, and its page sends positions at its usual rate."""
    panic, events = await svc.panics.acknowledge(unit_id, who.actor)
    await svc.feed.publish(events)
    return panic.as_json()


@router.post("/{unit_id}/panic/cancel", response_model=PanicOut)
async def cancel_panic(
    unit_id: PathId, body: CancelPanicIn, svc: ServicesDep, who: Canceller
) -> dict[str, Any]:
    """End the panic (confirm: true); its incident stays open for a dispatcher to close."""
    panic, events = await svc.panics.cancel(unit_id, who.actor, body.confirm)
    await svc.feed.publish(events)
    return panic.as_json()

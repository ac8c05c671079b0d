"""Intake: 110/119/120/122 calls and grid reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from alerts.catalogue import Channel
from alerts.coords import CoordSystem
from alerts.intake import NewAlert
from core.bounds import LINE, TEXT, Latitude, Longitude, PathId
from core.roles import Role
from core.tokens import Principal
from web.answers.incidents import Unlinked
from web.auth import ServicesDep, allow
from web.services import Services

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    lat: Latitude = Field(description="within Redis GEO's +-85.05112878 (also once converted to WGS-84)")
    lon: Longitude
    system: CoordSystem = Field(CoordSystem.WGS84, strict=False)  # named by its value
    address: Annotated[str, Field(max_length=500), TEXT] | None = None


class AlertIn(BaseModel):
    """A call to 110, 119, 120 or 122."""

    model_config = ConfigDict(extra="forbid", strict=True)
    channel: Literal["110", "119", "120", "122"]
    category: Annotated[str, Field(min_length=1, max_length=64), LINE]
    location: Location
    priority: int | None = Field(None, ge=1, le=4, description="overrides the category's default")
    description: Annotated[str, Field(max_length=4000), TEXT] | None = None
    caller_phone: Annotated[str, Field(max_length=32), LINE] | None = None
    caller_name: Annotated[str, Field(max_length=200), LINE] | None = None
    call_id: Annotated[str, Field(max_length=128), LINE] | None = Field(
        None, description="the telephony system's own call id"
    )
    zone: Annotated[str, Field(max_length=64), LINE] | None = None


class GridEventIn(BaseModel):
    """A report from a grid worker's app."""

    model_config = ConfigDict(extra="forbid", strict=True)
    category: Annotated[str, Field(min_length=1, max_length=64), LINE]
    location: Location
    grid_cell: Annotated[str, Field(max_length=64), LINE] | None = None
    priority: int | None = Field(None, ge=1, le=4)
    description: Annotated[str, Field(max_length=4000), TEXT] | None = None
    reporter_phone: Annotated[str, Field(max_length=32), LINE] | None = None
    reporter_name: Annotated[str, Field(max_length=200), LINE] | None = None
    report_id: Annotated[str, Field(max_length=128), LINE] | None = Field(
        None, description="the grid app's own report id"
    )


class AlertAccepted(BaseModel):
    alert_id: int
    incident_id: int
    status: Literal["new_incident", "linked"]
    linked_to: int | None
    priority: int
    received_at: str


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200), LINE]


@router.post("/alerts", status_code=202, response_model=AlertAccepted)
async def post_alert(
    body: AlertIn,
    svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.CALL_TAKER, Role.DISPATCHER, Role.INTEGRATION))],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, object]:
    """Accept a call: stored durably, then queued for dispatch."""
    new = NewAlert(
        channel=Channel(body.channel), category=body.category, lat=body.location.lat,
        lon=body.location.lon, coord_system=body.location.system, priority=body.priority,
        address=body.location.address, description=body.description, caller_phone=body.caller_phone,
        caller_name=body.caller_name, source_call_id=body.call_id, idempotency_key=idempotency_key,
        zone=body.zone,
    )  # fmt: skip
    return await _accept(svc, new, who.actor)


@router.post("/grid/events", status_code=202, response_model=AlertAccepted)
async def post_grid_event(
    body: GridEventIn,
    svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.INTEGRATION, Role.DISPATCHER))],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, object]:
    """Accept a grid worker's report."""
    new = NewAlert(
        channel=Channel.GRID, category=body.category, lat=body.location.lat, lon=body.location.lon,
        coord_system=body.location.system, priority=body.priority, address=body.location.address,
        description=body.description, caller_phone=body.reporter_phone, caller_name=body.reporter_name,
        source_call_id=body.report_id, idempotency_key=idempotency_key, zone=body.grid_cell,
    )  # fmt: skip
    return await _accept(svc, new, who.actor)


async def _accept(svc: Services, new: NewAlert, actor: str) -> dict[str, object]:
    accepted, events = await svc.intake.accept(new, actor)
    # accepted and queued: a feed that fails now must not turn that into an error (the caller would
    # send the call again)
    await svc.feed.publish_committed(events)
    return accepted.as_json()


@router.post("/alerts/{alert_id}/unlink", response_model=Unlinked)
async def unlink_alert(
    alert_id: PathId, svc: ServicesDep, who: Annotated[Principal, Depends(allow(Role.DISPATCHER))]
) -> dict[str, object]:
    """A dispatcher decides a linked call is a different matter: it gets an incident of its own."""
    incident_id, events = await svc.related.unlink(alert_id, who.actor)
    await svc.feed.publish(events)
    return {"alert_id": alert_id, "incident_id": incident_id}

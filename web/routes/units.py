"""Units: the roster, positions (one, or a batch from an AVL gateway) and status."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from core.roles import Role
from core.tokens import Principal
from units import history
from units.live import Fix
from units.roster import NewUnit
from units.status import SELF_REPORTABLE, UnitStatus
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1", tags=["units"])


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callsign: str = Field(min_length=1, max_length=32)
    kind: str = Field(min_length=1, max_length=64)
    tier: int | None = Field(None, ge=1, le=3, description="default: the kind's tier")
    capabilities: list[str] = Field(default_factory=list, max_length=20)
    home_zone: str | None = Field(None, max_length=64)
    crew: int = Field(1, ge=0, le=50)
    status: UnitStatus = UnitStatus.OFF_DUTY


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: float | None = Field(None, gt=0, description="fix time, epoch seconds; default: now")
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    speed_mps: float | None = Field(None, ge=0, le=200)
    heading: float | None = Field(None, ge=0, le=360)

    def fix(self, unit_id: int) -> Fix:
        return Fix(unit_id, self.lat, self.lon, self.at or time.time(), self.accuracy_m, self.speed_mps,
                   self.heading)  # fmt: skip


class BatchFixIn(FixIn):
    unit_id: int


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fixes: list[BatchFixIn] = Field(min_length=1, max_length=5000)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UnitStatus


def _own(who: Principal, unit_id: int) -> None:
    """A unit moves only itself; gateways, dispatchers and admins may move any."""
    if who.role is Role.UNIT and who.unit_id != unit_id:
        raise HTTPException(403, "a unit may only report for itself")


@router.post("/units", status_code=201)
async def create_unit(
    body: UnitIn, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """Register a unit (admins)."""
    unit, events = await svc.roster.register(
        NewUnit(body.callsign, body.kind, body.tier, tuple(body.capabilities), body.home_zone, body.crew,
                body.status),
        who.actor,
    )  # fmt: skip
    await svc.feed.publish(events)
    return unit.as_json()


@router.get("/units")
async def list_units(
    svc: ServicesDep, _: Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY))]
) -> list[dict[str, Any]]:
    """The roster with status and last known position."""
    return [u.as_json() for u in await svc.roster.all()]


@router.put("/units/{unit_id}/location")
async def put_location(
    unit_id: int, body: FixIn, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.INTEGRATION))],
) -> dict[str, Any]:  # fmt: skip
    """A unit reports where it is. Older or repeated fixes are ignored; implausible jumps flagged."""
    _own(who, unit_id)
    [verdict] = await svc.positions.report([body.fix(unit_id)])
    if verdict.verdict == "unknown":
        raise HTTPException(404, f"no unit {unit_id}")
    return {"unit_id": unit_id, "verdict": verdict.verdict}


@router.post("/locations")
async def post_locations(
    body: BatchIn, svc: ServicesDep, _: Annotated[Principal, Depends(allow(Role.INTEGRATION))]
) -> dict[str, Any]:
    """A batch of fixes from an AVL gateway."""
    verdicts = await svc.positions.report([f.fix(f.unit_id) for f in body.fixes])
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return {"accepted": counts.get("ok", 0), "verdicts": counts}


@router.post("/units/{unit_id}/status")
async def post_status(
    unit_id: int, body: StatusIn, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.DISPATCHER))],
) -> dict[str, Any]:  # fmt: skip
    """A unit (or a dispatcher for it) reports a status it may set for itself."""
    _own(who, unit_id)
    if body.status not in SELF_REPORTABLE:
        raise HTTPException(422, f"status {body.status.value} follows assignments; use them instead")
    return (await svc.lifecycle.report_status(unit_id, body.status, who.actor)).as_json()


class UnitChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callsign: str | None = Field(None, min_length=1, max_length=32)
    kind: str | None = Field(None, min_length=1, max_length=64)
    tier: int | None = Field(None, ge=1, le=3)
    capabilities: list[str] | None = Field(None, max_length=20)
    home_zone: str | None = Field(None, max_length=64)
    crew: int | None = Field(None, ge=0, le=50)


@router.patch("/units/{unit_id}")
async def change_unit(
    unit_id: int, body: UnitChange, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """Change what a unit is (admins); only the fields given change."""
    unit, events = await svc.roster.update(unit_id, body.model_dump(exclude_unset=True), who.actor)
    await svc.feed.publish(events)
    return unit.as_json()


@router.post("/units/{unit_id}/retire")
async def retire_unit(
    unit_id: int, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """Take a unit off the roster (admins); refused while it is on an assignment."""
    unit, events = await svc.roster.retire(unit_id, who.actor)
    await svc.feed.publish(events)
    return unit.as_json()


@router.post("/units/{unit_id}/tracker", status_code=201)
async def issue_tracker(
    unit_id: int, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """A device identifier for a phone tracker app (OsmAnd/Traccar protocol), shown once."""
    token, events = await svc.roster.issue_tracker(unit_id, who.actor)
    await svc.feed.publish(events)
    return {"unit_id": unit_id, "device_id": token, "endpoint": "/api/v1/osmand"}


@router.get("/units/{unit_id}/positions")
async def unit_trail(
    unit_id: int, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.DISPLAY, Role.UNIT))],
    since: datetime, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> dict[str, Any]:  # fmt: skip
    """The breadcrumb trail of one unit between two times (ISO 8601), oldest first."""
    _own(who, unit_id)
    await svc.roster.get(unit_id)
    end = until or datetime.now(UTC)
    fixes = await history.trail(svc.pool, unit_id, since, end, limit)
    return {"unit_id": unit_id, "since": since.isoformat(), "until": end.isoformat(),
            "fixes": [f.as_json() for f in fixes]}  # fmt: skip

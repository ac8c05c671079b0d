"""Units: the roster, positions (one, or a batch from an AVL gateway) and status."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from core.bounds import LINE, Finite, FixTime, Id, Instant, Latitude, Longitude, PathId
from core.errors import Invalid
from core.roles import Role
from core.tokens import Principal
from units import history
from units.live import Fix
from units.roster import NewUnit, Unit
from units.status import SELF_REPORTABLE, UnitStatus
from web import paging
from web.answers.common import Page
from web.answers.units import BatchVerdicts, FixVerdict, TrackerDevice, Trail, UnitOut
from web.auth import ServicesDep, allow
from web.paging import After, Limit

router = APIRouter(prefix="/api/v1", tags=["units"])


Callsign = Annotated[str, Field(min_length=1, max_length=32), LINE]
KindCode = Annotated[str, Field(min_length=1, max_length=64), LINE]
Capability = Annotated[str, Field(min_length=1, max_length=64), LINE]
Zone = Annotated[str, Field(max_length=64), LINE]
Tier = Annotated[int, Field(ge=1, le=3)]
Crew = Annotated[int, Field(ge=0, le=50)]


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callsign: Callsign
    kind: KindCode
    tier: Tier | None = Field(None, description="default: the kind's tier")
    capabilities: list[Capability] = Field(default_factory=list, max_length=20)
    home_zone: Zone | None = None
    crew: Crew = 1
    status: UnitStatus = UnitStatus.OFF_DUTY


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Latitude = Field(description="WGS-84, within Redis GEO's +-85.05112878")
    lon: Longitude
    at: FixTime | None = None
    accuracy_m: Annotated[Finite, Field(ge=0, le=100_000)] | None = None
    speed_mps: Annotated[Finite, Field(ge=0, le=200)] | None = None
    heading: Annotated[Finite, Field(ge=0, le=360)] | None = None

    def fix(self, unit_id: int) -> Fix:
        return Fix(unit_id, self.lat, self.lon, self.at or time.time(), self.accuracy_m, self.speed_mps,
                   self.heading)  # fmt: skip


class BatchFixIn(FixIn):
    unit_id: Id


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


@router.post("/units", status_code=201, response_model=UnitOut)
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


RosterReader = Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY))]


@router.get("/units", response_model=Page[UnitOut])
async def list_units(
    svc: ServicesDep, _: RosterReader, limit: Limit = 200, after: After = None,
    retired: Annotated[bool, Query(description="include retired units")] = False,
) -> dict[str, Any]:  # fmt: skip
    """The roster with status and last known position, by id, a page at a time."""
    key = paging.decode(after, (int,))
    found = await svc.roster.page(limit + 1, key[0] if key else 0, include_retired=retired)
    return paging.page(found, limit, lambda u: (u.id,), Unit.as_json)


@router.get("/units/{unit_id}", response_model=UnitOut)
async def get_unit(
    unit_id: PathId, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY, Role.UNIT))],
) -> dict[str, Any]:  # fmt: skip
    """One unit with its status and last known position; a unit reads only itself."""
    if who.role is Role.UNIT and who.unit_id != unit_id:
        raise HTTPException(403, "a unit reads only itself")
    return (await svc.roster.get(unit_id)).as_json()


@router.put("/units/{unit_id}/location", response_model=FixVerdict)
async def put_location(
    unit_id: PathId, body: FixIn, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.INTEGRATION))],
) -> dict[str, Any]:  # fmt: skip
    """A unit reports where it is. Older or repeated fixes are ignored; implausible jumps flagged."""
    _own(who, unit_id)
    verdict = await svc.positions.report_strict(body.fix(unit_id))
    if verdict.verdict == "unknown":
        raise HTTPException(404, f"no unit {unit_id}")
    return {"unit_id": unit_id, "verdict": verdict.verdict}


@router.post("/locations", response_model=BatchVerdicts)
async def post_locations(
    body: BatchIn, svc: ServicesDep, _: Annotated[Principal, Depends(allow(Role.INTEGRATION))]
) -> dict[str, Any]:
    """A batch of fixes from an AVL gateway."""
    verdicts = await svc.positions.report([f.fix(f.unit_id) for f in body.fixes])
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return {"accepted": counts.get("ok", 0), "verdicts": counts}


@router.post("/units/{unit_id}/status", response_model=UnitOut)
async def post_status(
    unit_id: PathId, body: StatusIn, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.DISPATCHER))],
) -> dict[str, Any]:  # fmt: skip
    """A unit (or a dispatcher for it) reports a status it may set for itself."""
    _own(who, unit_id)
    if body.status not in SELF_REPORTABLE:
        raise Invalid(f"status {body.status.value} follows assignments; use them instead", field="status")
    unit, events = await svc.lifecycle.report_status(unit_id, body.status, who.actor)
    await svc.feed.publish(events)
    return unit.as_json()


def _not_null(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # absent means unchanged; null is refused


class UnitChange(BaseModel):
    """Only the fields given change; ``home_zone`` may be null (no zone), the others may not."""

    model_config = ConfigDict(extra="forbid")
    # the None defaults mark "not given" (never validated, dropped by exclude_unset); a null sent is refused
    callsign: Callsign = Field(None, json_schema_extra=_not_null)  # type: ignore[assignment]
    kind: KindCode = Field(None, json_schema_extra=_not_null)  # type: ignore[assignment]
    tier: Tier = Field(None, json_schema_extra=_not_null)  # type: ignore[assignment]
    capabilities: list[Capability] = Field(None, max_length=20, json_schema_extra=_not_null)  # type: ignore[arg-type]
    home_zone: Zone | None = None
    crew: Crew = Field(None, json_schema_extra=_not_null)  # type: ignore[assignment]


@router.patch("/units/{unit_id}", response_model=UnitOut)
async def change_unit(
    unit_id: PathId, body: UnitChange, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """Change what a unit is (admins); only the fields given change."""
    unit, events = await svc.roster.update(unit_id, body.model_dump(exclude_unset=True), who.actor)
    await svc.feed.publish(events)
    return unit.as_json()


@router.post("/units/{unit_id}/retire", response_model=UnitOut)
async def retire_unit(
    unit_id: PathId, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """Take a unit off the roster (admins); refused while it is on an assignment."""
    unit, events = await svc.roster.retire(unit_id, who.actor)
    await svc.feed.publish(events)
    return unit.as_json()


@router.post("/units/{unit_id}/tracker", status_code=201, response_model=TrackerDevice)
async def issue_tracker(
    unit_id: PathId, svc: ServicesDep, who: Annotated[Principal, Depends(allow())]
) -> dict[str, Any]:
    """A device identifier for a phone tracker app (OsmAnd/Traccar protocol), shown once."""
    token, events = await svc.roster.issue_tracker(unit_id, who.actor)
    await svc.feed.publish(events)
    return {"unit_id": unit_id, "device_id": token, "endpoint": "/api/v1/osmand"}


@router.get("/units/{unit_id}/positions", response_model=Trail)
async def unit_trail(
    unit_id: PathId, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.DISPLAY, Role.UNIT))],
    since: Instant, until: Annotated[Instant | None, Query(description="default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> dict[str, Any]:  # fmt: skip
    """The breadcrumb trail of one unit between two times (ISO 8601 with an offset), oldest first."""
    end = until or datetime.now(UTC)
    if end < since:
        raise Invalid("until: must not be before since", field="until")
    _own(who, unit_id)
    await svc.roster.get(unit_id)
    fixes = await history.trail(svc.pool, unit_id, since, end, limit)
    return {"unit_id": unit_id, "since": since.isoformat(), "until": end.isoformat(),
            "fixes": [f.as_json() for f in fixes]}  # fmt: skip

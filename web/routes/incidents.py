"""Incidents: the list, one with its timeline, the recommendation, sending units, closing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from alerts import incidents
from core import eventlog
from core.bounds import TEXT, Id, Latitude, Longitude, PathId
from core.errors import Conflict, Invalid
from core.roles import SEES_CALLER_DATA, Role
from core.tokens import Principal
from dispatch import assignments
from dispatch.recommend import Ranked, Recommendation
from dispatch.routes import route_json
from web import paging
from web.answers.common import Page
from web.answers.incidents import IncidentDetail, IncidentOut, RecommendationOut, Sent
from web.auth import ServicesDep, allow
from web.paging import After, Limit

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
Viewer = Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY))]
Dispatcher = Annotated[Principal, Depends(allow(Role.DISPATCHER))]


def _ranked(r: Ranked) -> dict[str, Any]:
    return {
        "unit_id": r.unit_id, "kind": r.kind, "tier": r.tier, "travel_s": round(r.travel_s, 1),
        "distance_m": round(r.distance_m, 1), "reasons": [x.value for x in r.reasons],
        "requirement": r.requirement, "route": route_json(r.route),
    }  # fmt: skip


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    return {
        "picks": [_ranked(p) for p in rec.picks],
        "alternatives": [_ranked(p) for p in rec.alternatives],
        "shortfalls": [
            {"requirement": s.requirement, "kinds": list(s.kinds), "missing": s.missing, "code": s.code.value}
            for s in rec.shortfalls
        ],
    }


@router.get("", response_model=Page[IncidentOut])
async def list_incidents(
    svc: ServicesDep, _: Viewer, limit: Limit = 200, after: After = None
) -> dict[str, Any]:
    """Open incidents, most urgent and oldest first, a page at a time."""
    key = paging.decode(after, (int, str, int))
    try:
        start = (key[0], datetime.fromisoformat(key[1]), key[2]) if key else None
    except ValueError:
        raise Invalid("after: not a cursor this list gave", field="after") from None
    found = await incidents.open_incidents(svc.pool, limit + 1, start)
    return paging.page(found, limit, _sort_key, incidents.Incident.as_json)


def _sort_key(i: incidents.Incident) -> tuple[int, str, int]:
    received = i.times["received_at"]
    return i.priority, received.isoformat() if received else "", i.id


@router.get("/{incident_id}", response_model=IncidentDetail)
async def get_incident(
    incident_id: PathId, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY, Role.UNIT))],
) -> dict[str, Any]:  # fmt: skip
    """One incident with its alerts, assignments and timeline; a unit reads only those it was sent to."""
    incident = await incidents.get(svc.pool, incident_id)
    sent = await assignments.for_incident(svc.pool, incident_id)
    if who.role is Role.UNIT and all(a.unit_id != who.unit_id for a in sent):
        raise HTTPException(403, "a unit reads only the incidents it is sent to")
    alerts = await incidents.alerts_of(svc.pool, incident_id, caller_data=who.role in SEES_CALLER_DATA)
    return {
        **incident.as_json(),
        "alerts": alerts,
        "assignments": [a.as_json() for a in sent],
        "timeline": [e.as_json() for e in await eventlog.timeline(svc.pool, incident_id)],
    }


def _given(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # absent means unchanged; null is refused


class IncidentChange(BaseModel):
    """Only the fields given change; ``address`` and ``description`` may be null (cleared). A new
    location is WGS-84 and needs both ``lat`` and ``lon``."""

    model_config = ConfigDict(extra="forbid")
    # the None defaults mark "not given" (dropped by exclude_unset); a null sent is refused
    priority: Annotated[int, Field(ge=1, le=4)] = Field(None, json_schema_extra=_given)  # type: ignore[assignment]
    lat: Latitude = Field(None, json_schema_extra=_given)  # type: ignore[assignment]
    lon: Longitude = Field(None, json_schema_extra=_given)  # type: ignore[assignment]
    address: Annotated[str, Field(max_length=500), TEXT] | None = None
    description: Annotated[str, Field(max_length=4000), TEXT] | None = None


@router.patch("/{incident_id}", response_model=IncidentOut)
async def change_incident(
    incident_id: PathId, body: IncidentChange, svc: ServicesDep, who: Dispatcher
) -> dict[str, Any]:
    """Correct an open incident: priority, location, address, notes. The units on it are told at once."""
    wanted = body.model_dump(exclude_unset=True)
    if ("lat" in wanted) != ("lon" in wanted):
        raise Invalid("a new location needs both lat and lon", field="lat" if "lon" in wanted else "lon")
    edited, events = await incidents.edit(svc.pool, incident_id, wanted, who.actor)
    await svc.feed.publish(events)
    return edited.as_json()


@router.get("/{incident_id}/recommendation", response_model=RecommendationOut)
async def get_recommendation(incident_id: PathId, svc: ServicesDep, _: Dispatcher) -> dict[str, Any]:
    """Ranked candidates with travel time and reason codes, and shortfalls."""
    return recommendation_json(await svc.dispatcher.recommendation(incident_id))


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_ids: list[Id] = Field(min_length=1, max_length=20, description="units to send; empty: not allowed")


@router.post("/{incident_id}/assignments", status_code=201, response_model=Sent)
async def send_units(incident_id: PathId, body: SendIn, svc: ServicesDep, who: Dispatcher) -> dict[str, Any]:
    """A dispatcher sends units (the recommended ones, or any other available unit)."""
    offered, refused, events = await svc.dispatcher.send(incident_id, body.unit_ids, who.actor)
    await svc.feed.publish(events)
    if not offered:
        raise Conflict("none of these units could be sent", refused=refused)
    return {"offered": [a.as_json() for a in offered], "refused": refused}


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: Id = Field(description="the incident that goes on; this one closes as merged into it")


@router.post("/{incident_id}/merge", response_model=IncidentOut)
async def merge_incident(
    incident_id: PathId, body: MergeIn, svc: ServicesDep, who: Dispatcher
) -> dict[str, Any]:
    """Two incidents are one matter: this one's alerts move to the other, and this one closes."""
    events = await svc.related.merge(incident_id, body.into, who.actor)
    await svc.feed.publish(events)
    return (await incidents.get(svc.pool, body.into)).as_json()


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500), TEXT] | None = Field(None, description="default: resolved")


@router.post("/{incident_id}/close", response_model=IncidentOut)
async def close_incident(
    incident_id: PathId, svc: ServicesDep, who: Dispatcher, body: CloseIn | None = None
) -> dict[str, Any]:
    """Close an incident once no unit is on it any more."""
    closed, events = await svc.lifecycle.close(incident_id, who.actor, body.reason if body else None)
    await svc.feed.publish(events)
    return closed.as_json()

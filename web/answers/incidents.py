"""Incidents: one, its alerts and timeline, its assignments, the recommendation, merges and sends."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from alerts.incidents import IncidentStatus
from dispatch.assignments import AssignmentStatus
from web.answers.common import Answer, IsoTime


class Route(Answer):
    eta_s: float
    distance_m: float
    geometry: list[list[float]] = Field(description="[lat, lon] pairs along the roads, WGS-84")


class AssignmentOut(Answer):
    id: int
    incident_id: int
    unit_id: int
    status: AssignmentStatus
    offered_at: IsoTime | None
    offer_deadline: IsoTime | None
    accepted_at: IsoTime | None
    en_route_at: IsoTime | None
    on_scene_at: IsoTime | None
    cleared_at: IsoTime | None
    ended_at: IsoTime | None
    end_reason: str | None
    travel_s: float | None
    distance_m: float | None
    reasons: list[str]
    route: Route | None


class Times(Answer):
    received_at: IsoTime  # the first call's time
    created_at: IsoTime
    dispatched_at: IsoTime | None
    acknowledged_at: IsoTime | None
    en_route_at: IsoTime | None
    on_scene_at: IsoTime | None
    cleared_at: IsoTime | None
    closed_at: IsoTime | None


class Intervals(Answer):
    """Seconds: processing (call to dispatch), turnout (dispatch to moving), travel (moving to on
    scene), total (call to on scene); null until both ends happened."""

    processing_s: float | None
    turnout_s: float | None
    travel_s: float | None
    total_s: float | None


class Shortfall(Answer):
    # kept with the incident as it was written, by whichever version wrote it: what it holds beyond
    # these keys passes through rather than failing the answer
    model_config = ConfigDict(extra="allow")
    requirement: int | None = Field(description="the plan's requirement, by index; null: the whole plan")
    kinds: list[str]
    missing: int
    code: str
    reason: str | None = Field(None, description="cannot_dispatch: why the center could not handle it")


class IncidentOut(Answer):
    id: int
    category: str
    priority: int
    status: IncidentStatus
    lat: float
    lon: float
    address: str | None
    zone: str | None
    description: str | None
    shortfall: list[Shortfall] | None = Field(description="why it waits: the recommendation's shortfalls")
    times: Times
    intervals: Intervals
    merged_into: int | None
    close_reason: str | None


class AlertOut(Answer):
    id: int
    channel: str
    category: str
    priority: int
    lat: float
    lon: float
    orig_lat: float = Field(description="as the caller sent it, before conversion to WGS-84")
    orig_lon: float
    coord_system: str
    address: str | None
    description: str | None
    caller_phone: str | None = Field(description="masked for the roles that may not see it")
    caller_name: str | None
    received_at: IsoTime


class EventOut(Answer):
    event_id: int
    at: IsoTime
    kind: str = Field(description="past tense: incident.created, assignment.offered, ...")
    actor: str
    incident_id: int | None
    unit_id: int | None
    assignment_id: int | None
    alert_id: int | None
    data: dict[str, Any]


class IncidentDetail(IncidentOut):
    alerts: list[AlertOut]
    assignments: list[AssignmentOut]
    timeline: list[EventOut]


class Ranked(Answer):
    unit_id: int
    kind: str
    tier: int
    travel_s: float
    distance_m: float
    reasons: list[str]
    requirement: int
    route: Route | None


class RecommendationOut(Answer):
    picks: list[Ranked]
    alternatives: list[Ranked]
    shortfalls: list[Shortfall]


class UnitRefused(Answer):
    unit_id: int
    reason: str


class Sent(Answer):
    offered: list[AssignmentOut]
    refused: list[UnitRefused]


class Reassigned(Answer):
    cancelled: AssignmentOut
    offered: AssignmentOut


class Unlinked(Answer):
    alert_id: int
    incident_id: int

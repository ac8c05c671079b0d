"""The OsmAnd/Traccar client protocol, so that off-the-shelf phone tracker apps report positions.

The device identifier (``id``, ``deviceid`` or the JSON body's ``device_id``) is the unit's tracker
token, issued by an admin; there is no bearer token. Apps retry until they get a 200, so only a bad or
unknown report answers otherwise; a report without coordinates (cell or wifi only) is answered 200 and
logged, and the unit keeps its last position. The forms the apps send: ``units/tracker_reports.py``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from units import tracker_reports, trackers
from web.auth import ServicesDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["trackers"])
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _query(name: str, kind: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": kind}}  # fmt: skip


# read by hand (the apps differ in what they send), so declared here for the OpenAPI schema
PARAMETERS: dict[str, Any] = {"parameters": [
    _query("id", "string", "the device id an admin issued (or `deviceid`)"),
    _query("lat", "number", "WGS-84 latitude, within +-85.05112878 (or `location=lat,lon`)"),
    _query("lon", "number", "WGS-84 longitude"),
    _query("timestamp", "string", "epoch seconds or milliseconds, or ISO 8601; default: now"),
    _query("speed", "number", "knots, 0..400"),
    _query("bearing", "number", "degrees, 0..360 (or `heading`)"),
    _query("accuracy", "number", "metres, 0..100000"),
    _query("altitude", "number", "accepted and not kept"),
    _query("batt", "number", "accepted and not kept"),
]}  # fmt: skip
FORM = {"type": "object", "additionalProperties": {"type": "string"}}
PARAMETERS["requestBody"] = {"required": False, "content": {
    "application/x-www-form-urlencoded": {"schema": FORM},
    "application/json": {"schema": {"type": "object", "description": "Traccar Client: device_id, location"}},
}}  # fmt: skip
OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "taken; the fix's verdict (or no_position) is in X-Fix-Verdict"}
}


# the protocol's answer is an empty 200: no JSON is declared (response_class)
@router.get(
    "/api/v1/osmand",
    operation_id="osmand_get",
    openapi_extra=PARAMETERS,
    responses=OK,
    response_class=Response,
)
@router.post(
    "/api/v1/osmand",
    operation_id="osmand_post",
    openapi_extra=PARAMETERS,
    responses=OK,
    response_class=Response,
)
async def osmand(request: Request, svc: ServicesDep) -> Response:
    """One position: id, lat, lon, timestamp, speed (knots), bearing, altitude, accuracy, batt."""
    body = await request.body() if request.method == "POST" else b""  # bounded by the body limit
    params = tracker_reports.report_fields(
        request.query_params, request.headers.get("content-type", ""), body
    )
    token = params.get("id", "")
    # device ids are URL-safe tokens: anything else (NUL, control characters, megabytes) is unknown
    unit_id = await svc.roster.unit_for_tracker(token) if DEVICE_ID.fullmatch(token) else None
    if unit_id is None:
        raise HTTPException(401, "unknown device id")
    if not tracker_reports.has_position(params):
        log.info("tracker report of unit %s without coordinates: %s", unit_id, sorted(params.keys() - {"id"}))
        return Response(status_code=200, headers={"X-Fix-Verdict": "no_position"})
    [verdict] = await svc.positions.report([trackers.parse_fix(unit_id, params)])
    return Response(status_code=200, headers={"X-Fix-Verdict": verdict.verdict})

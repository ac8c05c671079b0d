"""The streets of the loaded road network, for the pages' base layer (no tile server needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from core.errors import NotFound
from core.roles import Role
from core.tokens import Principal
from roads.streets import detail_for
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1", tags=["streets"])
Viewer = Annotated[Principal, Depends(allow(Role.DISPATCHER, Role.CALL_TAKER, Role.DISPLAY, Role.UNIT))]


@router.get("/streets", response_class=Response)
async def streets(svc: ServicesDep, _: Viewer, zoom: Annotated[int, Query(ge=0, le=22)] = 16) -> Response:
    """GeoJSON LineStrings of the streets a map at ``zoom`` shows; 404 without a loaded extract."""
    levels = svc.streets.levels if svc.streets is not None else None
    if levels is None:
        raise NotFound("no road network is loaded")
    return Response(levels[detail_for(zoom)], media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip

"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from web.answers.misc import Alive
from web.auth import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive)
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "alive"}


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Any] = Field(description="each check: ok, or what is wrong")


@router.get(
    "/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}}
)
async def readyz(svc: ServicesDep) -> JSONResponse:
    """Redis and PostgreSQL reachable and the schema current."""
    checks = await svc.readiness()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

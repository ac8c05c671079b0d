"""``GET /metrics``: the Prometheus text format, for the API app and a worker's probe app.

Who may read it is the operator's choice (``DISPATCH_METRICS``): a role whose bearer token is required
(``admin`` by default; admin is always admitted), or ``open`` for a port only the monitoring network
reaches. The gauges read from the stores are read for this scrape (bounded, ``center/store_gauges.py``);
the rest come from this process's registry, or from every process's files in
``PROMETHEUS_MULTIPROC_DIR`` when that is set. Rendering reads files: it runs on a thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core import metrics
from core.roles import Role
from web.auth import principal, services

router = APIRouter(tags=["health"])

OPEN = "open"
_bearer = HTTPBearer(auto_error=False)


async def admitted(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Anyone when the operator opened the metrics; otherwise a token of the chosen role (or admin)."""
    access = services(request).metrics_access
    if access == OPEN:
        return
    who = await principal(request, creds)
    if who.role not in {Role(access), Role.ADMIN}:
        raise HTTPException(403, f"role {who.role.value} may not read the metrics")


def render(scraped: Collector) -> bytes:
    """This process's metrics (or every process's, in multiprocess mode), then the scraped gauges."""
    if (folder := metrics.multiprocess_dir()) is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        own = generate_latest(registry)
    else:
        own = generate_latest(REGISTRY)
    stores = CollectorRegistry()
    stores.register(scraped)
    return own + generate_latest(stores)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(admitted)])
async def metrics_text(request: Request) -> Response:
    """Prometheus metrics, every name ``dispatch_*`` (plus the client library's process metrics)."""
    scraped = await services(request).scrape()
    body = await asyncio.to_thread(render, scraped)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

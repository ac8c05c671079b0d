"""The FastAPI application: routes, sockets, error mapping and body limits.

The app's lifespan enters the center's resources (pools, clients, background tasks), handed in by the
composition root as an async context manager, so that whoever opens them also closes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from web import errors, metrics, pages, sockets
from web.limits import BodyLimit
from web.observe import ObserveRequests
from web.routes import (
    alerts,
    assignments,
    attachments,
    cases,
    health,
    incidents,
    login,
    panic,
    reports,
    streets,
    trackers,
    units,
)  # fmt: skip
from web.services import Services

OpenServices = Callable[[], AbstractAsyncContextManager[Services]]


def create_app(
    open_services: OpenServices, max_body_bytes: int = 256 * 1024,
    page_settings: pages.PageSettings | None = None,
) -> FastAPI:  # fmt: skip
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services() as svc:
            app.state.services = svc
            yield

    app = FastAPI(
        title="Dispatch center",
        version="0.1.0",
        description="110/119/120/122 calls and grid reports to the nearest unit, live. "
        "Every route needs a bearer token; see docs/api.md.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by web/pages.py from the npm package, not a CDN
        redoc_url=None,  # one browsable description is enough; ReDoc comes from a CDN only
    )
    errors.install(app)
    for module in (
        health,
        alerts,
        attachments,
        cases,
        incidents,
        units,
        panic,
        trackers,
        assignments,
        streets,
        reports,
    ):
        app.include_router(module.router)
    app.include_router(login.router)
    app.include_router(metrics.router)
    app.include_router(sockets.router)
    pages.install(app, page_settings)  # /wall, /console, /unit and /static
    errors.declare(app)  # the error statuses of every route, in the OpenAPI schema
    app.add_middleware(
        BodyLimit, max_bytes=max_body_bytes, streamed_suffixes=(attachments.UPLOAD_PATH_SUFFIX,)
    )
    app.add_middleware(ObserveRequests)  # outermost: a refused body is counted and has its request id
    return app


def operation_id(route: APIRoute) -> str:
    """The route function's own name (``get_incident``, ``assignment_step``): short and stable, what a
    generated client names its calls. The functions' names are unique across the routes (a test says so)."""
    return route.name


def create_probe_app(svc: Services) -> FastAPI:
    """What a worker process (no API) serves for its health checks and scraping: /healthz, /readyz and
    /metrics."""
    app = FastAPI(title="Dispatch center worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = svc
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.add_middleware(ObserveRequests)
    return app

"""The pages: ``/wall`` (the big screen), ``/console`` (dispatchers), ``/unit`` (a unit's phone) and
``/reports`` (leadership's figures and the shift reports).

Plain HTML, CSS and JavaScript modules under ``web/static/`` with no build step. The map library, its
heat layer, the reports' charts and the API's ``/docs`` page (Swagger UI) come from npm
(``web/static/package.json``, installed by ``./run`` into ``web/static/node_modules``) and are served
from ``/static/vendor/``: nothing is loaded from a CDN, and
no tile server is asked unless one is configured (``DISPATCH_TILE_URL``), so the pages work with no
internet access. Each page gets its configuration (labels, unit kinds, the tile URL, the statuses and
their groups from the state machines' enums) inlined as JSON and a Content-Security-Policy that keeps it
talking to this center only.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from alerts.incidents import OPEN, UNSERVED, IncidentStatus
from dispatch.assignments import ACTIVE, AssignmentStatus
from units.status import AVAILABILITY, SELF_REPORTABLE, UnitStatus
from web.services import Services

STATIC = Path(__file__).with_name("static")
NODE_MODULES = STATIC / "node_modules"
# what the pages load from npm packages: URL path under /static/vendor/ -> folder in node_modules
VENDOR = {"leaflet": "leaflet/dist", "leaflet.heat": "leaflet.heat/dist", "chart.js": "chart.js/dist",
          "swagger-ui": "swagger-ui-dist"}  # fmt: skip
SWAGGER = "/static/vendor/swagger-ui"
PAGES = ("wall", "console", "unit", "reports")
CONFIG_MARK = "{{CONFIG}}"


@dataclass(frozen=True, slots=True)
class PageSettings:
    """What the pages are told besides the catalogues: the map's tile server, if any."""

    tile_url: str | None = None
    tile_attribution: str = ""

    @classmethod
    def from_environment(cls) -> PageSettings:
        """``DISPATCH_TILE_URL`` and ``DISPATCH_TILE_ATTRIBUTION`` (center/settings.py documents them),
        for an app whose composition root passes no page settings."""
        env = os.environ
        return cls(env.get("DISPATCH_TILE_URL") or None, env.get("DISPATCH_TILE_ATTRIBUTION", ""))


def install(app: FastAPI, settings: PageSettings | None = None) -> None:
    """Add the page routes and the static folders to ``app``."""
    app.include_router(_router(settings or PageSettings.from_environment()))
    for name, folder in VENDOR.items():
        # check_dir off: a center installed without npm still serves its API; the pages then say why the
        # map is missing
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=NODE_MODULES / folder, check_dir=False))
    for folder in ("js", "css"):
        app.mount(f"/static/{folder}", StaticFiles(directory=STATIC / folder), name=f"static-{folder}")


def _router(settings: PageSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(name: str) -> Any:
        async def serve(request: Request) -> HTMLResponse:
            svc: Services = request.app.state.services
            config = page_config(svc, settings) | {"page": name}
            html = _template(name).replace(CONFIG_MARK, _script_json(config))
            return HTMLResponse(html, headers=_headers(request, settings))

        serve.__name__ = f"page_{name}"
        return serve

    for name in PAGES:
        router.add_api_route(f"/{name}", page(name), methods=["GET"], response_class=HTMLResponse)

    @router.get("/docs", response_class=HTMLResponse)
    async def api_docs(request: Request) -> HTMLResponse:
        """The API browsable, from the npm package like the pages' libraries: no CDN."""
        return get_swagger_ui_html(
            openapi_url=request.app.openapi_url, title=f"{request.app.title} API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js", swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png", oauth2_redirect_url="/docs/oauth2-redirect",
        )  # fmt: skip

    @router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
    async def api_docs_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    return router


@functools.cache
def _template(name: str) -> str:
    return (STATIC / f"{name}.html").read_text(encoding="utf-8")


def page_config(svc: Services, settings: PageSettings) -> dict[str, Any]:
    """Labels and figures every page needs: unit kinds, categories, the map's tiles, the statuses, and the
    time zone the center counts days and shifts in (the reports' periods are picked in it)."""
    return {
        "statuses": statuses(),
        "timezone": svc.timezone,
        "tile_url": settings.tile_url,
        "tile_attribution": settings.tile_attribution,
        "streets": svc.streets is not None,  # the center serves its road network's streets
        "kinds": {
            k.code: {"zh": k.name_zh, "en": k.name_en, "agency": k.agency, "stale_after_s": k.stale_after_s}
            for k in svc.kinds.values()
        },
        "categories": {
            c.code: {"zh": c.name_zh, "en": c.name_en, "priority": c.priority, "auto": c.auto_dispatch}
            for c in svc.catalogue
        },
        "vendor": all((NODE_MODULES / folder).is_dir() for folder in VENDOR.values()),
    }


def statuses() -> dict[str, Any]:
    """Every status of units, incidents and assignments, in the enums' order, and the groups the pages
    sort them into, from the Python enums and sets (the pages keep no copy; web/static/js/statuses.js
    reads this)."""
    return {
        "unit": [s.value for s in UnitStatus],
        "incident": [s.value for s in IncidentStatus],
        "assignment": [s.value for s in AssignmentStatus],
        # unit status -> available | committed | unavailable
        "unit_availability": {s.value: AVAILABILITY[s].value for s in UnitStatus},
        "unit_self_reportable": [s.value for s in UnitStatus if s in SELF_REPORTABLE],
        "incident_open": [s.value for s in IncidentStatus if s in OPEN],
        "incident_unserved": [s.value for s in IncidentStatus if s in UNSERVED],
        "assignment_active": [s.value for s in AssignmentStatus if s in ACTIVE],
    }


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>`` can close it early."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _headers(request: Request, settings: PageSettings) -> dict[str, str]:
    host = request.headers.get("host", "")
    sockets = f"ws://{host} wss://{host}" if host else ""
    tiles = _origin_pattern(settings.tile_url) if settings.tile_url else ""
    policy = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # the map library positions its panes with inline styles
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob: {tiles}".strip(),
        f"connect-src 'self' {sockets}".strip(),
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])  # fmt: skip
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _origin_pattern(url: str) -> str:
    """The CSP source of a tile URL template: ``https://{s}.tile.example/{z}/..`` -> ``https://*.tile.example``."""
    parts = urlsplit(url.replace("{s}", "x"))
    host = parts.netloc
    if "{s}" in url.split("//", 1)[-1].split("/", 1)[0]:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""

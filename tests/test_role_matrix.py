"""Role x endpoint: every route of the app has an expectation here, and each of the seven roles is
admitted (not 401/403) or refused (403) as written; then object ownership: a unit never moves or reads
another unit's assignment, a grid worker handles only their own reports, a display moves nothing."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import fastapi.routing
import httpx
import orjson
import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute
from PIL import Image
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed

from core.roles import Role
from tests import helpers
from tests.conftest import Center, receive
from web.app import create_app
from web.services import Services

R = Role
PUBLIC = "public"  # no token needed (health, login, docs, pages, static files)
DEVICE = "device"  # a tracker app's device id is the credential; a bearer token is not


def only(*roles: Role) -> frozenset[Role]:
    """These roles, and admin (``allow`` always admits admin)."""
    return frozenset(roles) | {R.ADMIN}


ALL = frozenset(Role)
INCIDENT_VIEWERS = only(R.DISPATCHER, R.CALL_TAKER, R.DISPLAY)
CASE_VIEWERS = only(R.GRID_WORKER, R.DISPATCHER, R.DISPLAY)
CASE_WORKERS = only(R.GRID_WORKER, R.DISPATCHER)
ATTACHMENT_READERS = only(R.GRID_WORKER, R.DISPATCHER, R.CALL_TAKER)
ATTACHMENT_WRITERS = ATTACHMENT_READERS | {R.INTEGRATION}
REPORT_READERS = only(R.DISPATCHER, R.DISPLAY)

# (method, path) -> the roles admitted, or PUBLIC / DEVICE; "WS" for sockets, "MOUNT" for static folders
MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): only(),  # admin by default; DISPATCH_METRICS names another role, or open
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("POST", "/api/v1/login"): PUBLIC,
    ("GET", "/api/v1/me"): ALL,
    # intake
    ("POST", "/api/v1/alerts"): only(R.CALL_TAKER, R.DISPATCHER, R.INTEGRATION),
    ("POST", "/api/v1/grid/events"): only(R.GRID_WORKER, R.INTEGRATION, R.DISPATCHER),
    ("POST", "/api/v1/alerts/{alert_id}/unlink"): only(R.DISPATCHER),
    ("POST", "/api/v1/alerts/{alert_id}/attachments"): ATTACHMENT_WRITERS,
    ("GET", "/api/v1/alerts/{alert_id}/attachments"): ATTACHMENT_READERS,
    ("GET", "/api/v1/attachments/{attachment_id}"): ATTACHMENT_READERS,
    # grid cases
    ("GET", "/api/v1/cases"): CASE_VIEWERS,
    ("GET", "/api/v1/cases/overdue"): CASE_VIEWERS,
    ("GET", "/api/v1/cases/{case_id}"): CASE_VIEWERS,
    ("POST", "/api/v1/cases/{case_id}/escalate"): CASE_WORKERS,
    ("POST", "/api/v1/cases/{case_id}/supervise"): CASE_WORKERS,
    ("POST", "/api/v1/cases/{case_id}/{step}"): CASE_WORKERS,
    # incidents
    ("GET", "/api/v1/incidents"): INCIDENT_VIEWERS,
    ("GET", "/api/v1/incidents/{incident_id}"): INCIDENT_VIEWERS,
    ("GET", "/api/v1/incidents/{incident_id}/recommendation"): only(R.DISPATCHER),
    ("POST", "/api/v1/incidents/{incident_id}/assignments"): only(R.DISPATCHER),
    ("POST", "/api/v1/incidents/{incident_id}/merge"): only(R.DISPATCHER),
    ("POST", "/api/v1/incidents/{incident_id}/close"): only(R.DISPATCHER),
    ("PATCH", "/api/v1/incidents/{incident_id}"): only(R.DISPATCHER),
    ("GET", "/api/v1/incidents/{incident_id}/replay"): REPORT_READERS,
    # reports
    ("GET", "/api/v1/streets"): only(R.DISPATCHER, R.CALL_TAKER, R.DISPLAY, R.UNIT),
    ("GET", "/api/v1/reports/response"): REPORT_READERS,
    ("GET", "/api/v1/reports/offers"): REPORT_READERS,
    ("GET", "/api/v1/reports/cases"): REPORT_READERS,
    ("GET", "/api/v1/reports/shifts"): REPORT_READERS,
    ("GET", "/api/v1/reports/shifts/{report_id}"): REPORT_READERS,
    # units
    ("POST", "/api/v1/units"): only(),
    ("GET", "/api/v1/units"): INCIDENT_VIEWERS,
    ("GET", "/api/v1/units/{unit_id}"): only(R.DISPATCHER, R.CALL_TAKER, R.DISPLAY, R.UNIT),
    ("PUT", "/api/v1/units/{unit_id}/location"): only(R.UNIT, R.INTEGRATION),
    ("POST", "/api/v1/locations"): only(R.INTEGRATION),
    ("POST", "/api/v1/units/{unit_id}/status"): only(R.UNIT, R.DISPATCHER),
    ("PATCH", "/api/v1/units/{unit_id}"): only(),
    ("POST", "/api/v1/units/{unit_id}/retire"): only(),
    ("POST", "/api/v1/units/{unit_id}/tracker"): only(),
    ("GET", "/api/v1/units/{unit_id}/positions"): only(R.DISPATCHER, R.DISPLAY, R.UNIT),
    # the panic: the unit itself (whatever else its token may do) or a gateway; a dispatcher acknowledges
    ("POST", "/api/v1/units/{unit_id}/panic"): only(R.UNIT, R.INTEGRATION),
    ("POST", "/api/v1/units/{unit_id}/panic/acknowledge"): only(R.DISPATCHER),
    ("POST", "/api/v1/units/{unit_id}/panic/cancel"): only(R.UNIT, R.DISPATCHER, R.INTEGRATION),
    ("GET", "/api/v1/osmand"): DEVICE,
    ("POST", "/api/v1/osmand"): DEVICE,
    # assignments
    ("POST", "/api/v1/assignments/{assignment_id}/cancel"): only(R.DISPATCHER),
    ("POST", "/api/v1/assignments/{assignment_id}/reassign"): only(R.DISPATCHER),
    ("POST", "/api/v1/assignments/{assignment_id}/{step}"): only(R.UNIT, R.DISPATCHER),
    # sockets: admin is not a unit, so /ws/unit admits units only
    ("WS", "/ws/ops"): frozenset({R.ADMIN, R.DISPATCHER, R.CALL_TAKER, R.DISPLAY}),
    ("WS", "/ws/unit"): frozenset({R.UNIT}),
    # pages: plain HTML that logs in from the browser; the data comes from the API and sockets
    ("GET", "/wall"): PUBLIC,
    ("GET", "/console"): PUBLIC,
    ("GET", "/unit"): PUBLIC,
    ("GET", "/reports"): PUBLIC,  # its figures come from /api/v1/reports/* (REPORT_READERS)
    ("MOUNT", "/static/vendor/leaflet"): PUBLIC,
    ("MOUNT", "/static/vendor/leaflet.heat"): PUBLIC,
    ("MOUNT", "/static/vendor/chart.js"): PUBLIC,
    ("MOUNT", "/static/vendor/swagger-ui"): PUBLIC,
    ("MOUNT", "/static/js"): PUBLIC,
    ("MOUNT", "/static/css"): PUBLIC,
}


@asynccontextmanager
async def _never() -> AsyncIterator[Services]:
    raise AssertionError("the route listing never starts the center")
    yield  # pragma: no cover


def app_routes() -> set[tuple[str, str]]:
    """Every route of the app as (method, path), sockets as WS and static folders as MOUNT."""
    routes: list[Any] = create_app(_never).routes
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.13x nests routers
    found: set[tuple[str, str]] = set()
    for route in flatten(routes) if flatten else routes:
        kind, path = getattr(route, "original_route", route), route.path
        if isinstance(kind, APIRoute | Route):
            found |= {(m, path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(kind, APIWebSocketRoute | WebSocketRoute):
            found.add(("WS", path))
        elif isinstance(kind, Mount):
            found.add(("MOUNT", path))
        else:
            found.add(("UNKNOWN", repr(route)))
    return found


def test_every_route_has_an_expectation() -> None:
    """A new route (or socket, page, static folder) fails here until its row is added to the matrix."""
    routes = app_routes()
    assert sorted(routes - MATRIX.keys()) == [], "routes with no expectation in MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "expectations for routes the app no longer has"
    schema = create_app(_never).openapi()
    in_schema = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert in_schema <= routes


def test_a_display_may_write_nothing() -> None:
    """Wall screens are read-only: no route but GET admits a display (login aside)."""
    writes = [
        k for k, v in MATRIX.items() if k[0] not in ("GET", "WS", "MOUNT") and v not in (PUBLIC, DEVICE)
    ]
    assert writes and all(R.DISPLAY not in MATRIX[k] for k in writes)


def real_photo() -> bytes:
    """A small real JPEG: uploads must decode as what they claim."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 160, 200)).save(out, "JPEG")
    return out.getvalue()


async def report(center: Center, worker: httpx.AsyncClient) -> tuple[int, int]:
    """A grid report with a photo: (alert id, attachment id)."""
    reply = await worker.post("/api/v1/grid/events", json={
        "category": "safety_hazard", "location": {"lat": 31.2350, "lon": 121.4750},
        "grid_cell": "T1/C1/cell-1", "description": "a loose manhole cover"})  # fmt: skip
    assert reply.status_code == 202, reply.text
    alert_id: int = reply.json()["alert_id"]
    photo = real_photo()
    upload = await worker.post(f"/api/v1/alerts/{alert_id}/attachments", content=photo,
                               headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert upload.status_code == 201, upload.text
    attachment_id: int = upload.json()["id"]
    return alert_id, attachment_id


async def add_unit(center: Center, callsign: str, status: str = "available") -> int:
    return await helpers.add_unit(center, callsign, status=status, at=(31.2350, 121.4750))


def client(center: Center, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=center.url, headers=headers, timeout=10)


async def socket_admits(center: Center, path: str, token: str) -> bool:
    """True when the socket answers the auth with its first frame; False when it closes with 1008."""
    async with websockets.connect(center.ws_url + path) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        try:
            first = await receive(ws)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1008, closed
            return False
        assert first["type"] in ("snapshot", "hello"), first
        return True


async def test_role_matrix(center: Center) -> None:
    """Each role on each route: admitted where the matrix says so, 403 everywhere else."""
    unit_id = await add_unit(center, "P-1")
    spare = await add_unit(center, "P-2", status="off_duty")  # retired by the walk
    reporter = center.signer.issue(R.GRID_WORKER, "gw-owner", level="community", area="T1/C1")
    async with client(center, reporter) as worker:
        alert_id, attachment_id = await report(center, worker)
    tokens = {role: center.token(role, unit_id if role is R.UNIT else None) for role in Role}
    tokens[R.GRID_WORKER] = reporter
    params = {"alert_id": alert_id, "attachment_id": attachment_id, "case_id": 1, "incident_id": 1,
              "unit_id": unit_id, "assignment_id": 1, "step": "accept", "report_id": 1}  # fmt: skip
    wrong: list[str] = []
    for (method, path), admitted in MATRIX.items():
        body: dict[str, Any] | None = {} if method not in ("GET", "MOUNT") else None
        url = path.format(**params)
        if path.endswith("/retire"):
            url = path.format(**params | {"unit_id": spare})
        if method == "MOUNT":
            url, method = url + "/no-such-file.js", "GET"
        if admitted == PUBLIC:
            async with client(center, None) as anonymous:
                status = (await anonymous.request(method, url, json=body)).status_code
            if status in (401, 403):
                wrong.append(f"{method} {path} without a token: {status}")
            continue
        for role in Role:
            if method == "WS":
                got = await socket_admits(center, path, tokens[role])
                if got != (role in admitted):
                    wrong.append(f"WS {path} {role.value}: {'admitted' if got else 'refused'}")
                continue
            async with client(center, tokens[role]) as who:
                status = (await who.request(method, url, json=body)).status_code
            if admitted == DEVICE:
                expect_ok = status == 401  # without the device id, no token helps
            else:
                expect_ok = status not in (401, 403) if role in admitted else status == 403
            if not expect_ok:
                wrong.append(f"{method} {path} {role.value}: {status}")
    assert wrong == []


async def test_tracker_device_id_is_the_only_credential(center: Center) -> None:
    """The OsmAnd endpoint takes the device id an admin issued, and nothing else."""
    unit_id = await add_unit(center, "P-9")
    async with center.client(R.ADMIN) as admin:
        device = (await admin.post(f"/api/v1/units/{unit_id}/tracker")).json()["device_id"]
    fix = {"lat": "31.24", "lon": "121.48", "timestamp": str(int(time.time()) + 1)}
    async with client(center, None) as app:
        assert (await app.get("/api/v1/osmand", params=fix | {"id": device})).status_code == 200
        assert (await app.get("/api/v1/osmand", params=fix | {"id": "guess"})).status_code == 401


async def offered_to(center: Center, unit_id: int) -> tuple[int, int]:
    """A call next to the unit, dispatched to it: (incident id, assignment id)."""
    async with center.client(R.CALL_TAKER) as taker:
        reply = await taker.post("/api/v1/alerts", json={
            "channel": "110", "category": "assault", "priority": 2,
            "location": {"lat": 31.2350, "lon": 121.4750}})  # fmt: skip
        incident_id: int = reply.json()["incident_id"]
    async with center.client(R.DISPATCHER) as desk:
        for _ in range(200):
            found = (await desk.get(f"/api/v1/incidents/{incident_id}")).json()
            mine = [a for a in found["assignments"] if a["unit_id"] == unit_id and a["status"] == "offered"]
            if mine:
                return incident_id, mine[0]["id"]
            await asyncio.sleep(0.05)
    raise AssertionError(f"no offer to unit {unit_id}")


async def test_a_unit_never_touches_another_units_assignment(center: Center) -> None:
    """Unit B can neither move nor see unit A's assignment, nor report for A; A can."""
    a = await add_unit(center, "A-1")
    b = await add_unit(center, "B-1", status="off_duty")
    incident_id, assignment_id = await offered_to(center, a)
    async with center.client(R.UNIT, b) as other:
        for step in ("accept", "decline", "arrive", "clear"):
            status = (await other.post(f"/api/v1/assignments/{assignment_id}/{step}")).status_code
            assert status in (403, 404), step  # 404: it does not even learn that it exists
        assert (await other.get(f"/api/v1/incidents/{incident_id}")).status_code == 403
        assert (await other.put(f"/api/v1/units/{a}/location", json={"lat": 31.2, "lon": 121.4})
                ).status_code == 403  # fmt: skip
        assert (await other.post(f"/api/v1/units/{a}/status", json={"status": "off_duty"})).status_code == 403
        trail = await other.get(f"/api/v1/units/{a}/positions", params={"since": "2020-01-01T00:00:00Z"})
        assert trail.status_code == 403
    ws = await center.socket("/ws/unit", R.UNIT, b)
    try:
        hello = await receive(ws)
        assert hello["type"] == "hello" and hello["assignments"] == []
        await ws.send(orjson.dumps({"type": "accept", "assignment_id": assignment_id, "ref": 1}).decode())
        assert (await receive(ws))["type"] == "error"
    finally:
        await ws.close()
    async with center.client(R.DISPATCHER) as desk:
        found = (await desk.get(f"/api/v1/incidents/{incident_id}")).json()
        assert [x["status"] for x in found["assignments"] if x["id"] == assignment_id] == ["offered"]
    async with center.client(R.UNIT, a) as own:
        assert (await own.post(f"/api/v1/assignments/{assignment_id}/accept")).status_code == 200


async def test_a_grid_worker_sees_only_their_own_reports(center: Center) -> None:
    """Another grid worker cannot list, read or add to a report's attachments; the reporter and the
    dispatchers can."""
    owner = center.signer.issue(R.GRID_WORKER, "wang")
    stranger = center.signer.issue(R.GRID_WORKER, "li")
    async with client(center, owner) as mine:
        alert_id, attachment_id = await report(center, mine)
        assert (await mine.get(f"/api/v1/alerts/{alert_id}/attachments")).status_code == 200
        assert (await mine.get(f"/api/v1/attachments/{attachment_id}")).status_code == 200
    async with client(center, stranger) as other:
        assert (await other.get(f"/api/v1/alerts/{alert_id}/attachments")).status_code == 403
        assert (await other.get(f"/api/v1/attachments/{attachment_id}")).status_code == 403
        upload = await other.post(f"/api/v1/alerts/{alert_id}/attachments", content=b"\xff\xd8\xff" * 10,
                                  headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert upload.status_code == 403
        assert (await other.get("/api/v1/incidents")).status_code == 403
    async with center.client(R.DISPATCHER) as desk:
        assert (await desk.get(f"/api/v1/attachments/{attachment_id}")).status_code == 200


@pytest.mark.parametrize(
    "sneaky", [{"type": "accept", "assignment_id": 1}, {"type": "status", "status": "available"}]
)
async def test_a_display_moves_nothing(center: Center, sneaky: dict[str, Any]) -> None:
    """Every write a display tries is refused and leaves no event; its socket ignores what it sends."""
    unit_id = await add_unit(center, "P-1")
    await offered_to(center, unit_id)
    events = await count_events(center)
    params = {"alert_id": 1, "attachment_id": 1, "case_id": 1, "incident_id": 1, "unit_id": unit_id,
              "assignment_id": 1, "step": "accept"}  # fmt: skip
    async with center.client(R.DISPLAY) as wall:
        for (method, path), admitted in MATRIX.items():
            if method in ("GET", "WS", "MOUNT") or admitted in (PUBLIC, DEVICE):
                continue
            reply = await wall.request(method, path.format(**params), json={})
            assert reply.status_code == 403, (method, path)
    ws = await center.socket("/ws/ops", R.DISPLAY)
    try:
        assert (await receive(ws))["type"] == "snapshot"
        await ws.send(orjson.dumps(sneaky).decode())
        await asyncio.sleep(0.3)
    finally:
        await ws.close()
    assert await count_events(center) == events


async def count_events(center: Center) -> int:
    assert center.settings.database_url
    conn = await asyncpg.connect(center.settings.database_url)
    try:
        count: int = await conn.fetchval("select count(*) from events")
        return count
    finally:
        await conn.close()

"""Security from the first line: every route and socket needs a valid, unexpired token of a right role."""

from __future__ import annotations

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import Center, receive
from tests.helpers import add_unit

ROUTES = [
    ("POST", "/api/v1/alerts"),
    ("POST", "/api/v1/grid/events"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/1"),
    ("GET", "/api/v1/incidents/1/recommendation"),
    ("POST", "/api/v1/incidents/1/assignments"),
    ("POST", "/api/v1/units"),
    ("GET", "/api/v1/units"),
    ("PUT", "/api/v1/units/1/location"),
    ("POST", "/api/v1/locations"),
    ("POST", "/api/v1/units/1/status"),
    ("POST", "/api/v1/assignments/1/accept"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_refuses_missing_forged_and_expired_tokens(
    center: Center, method: str, path: str
) -> None:
    """No token, a token signed with another secret, and an expired token all get 401."""
    forged = TokenSigner("another-secret-another-secret-another-secret").issue(Role.ADMIN, "mallory")
    expired = center.signer.issue(Role.ADMIN, "late", ttl_s=-10)
    async with httpx.AsyncClient(base_url=center.url) as client:
        for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"}):
            reply = await client.request(method, path, headers=headers, json={})
            assert reply.status_code == 401, (headers, reply.text)


async def test_roles_are_enforced(center: Center) -> None:
    """A wall screen cannot create units or report calls; a unit cannot move another unit."""
    async with center.client(Role.DISPLAY) as display:
        assert (
            await display.post("/api/v1/units", json={"callsign": "X", "kind": "patrol_car"})
        ).status_code == 403
        assert (await display.get("/api/v1/units")).status_code == 200
    unit_id = await add_unit(center, "P-1")
    async with center.client(Role.UNIT, unit_id + 1) as other:
        reply = await other.put(f"/api/v1/units/{unit_id}/location", json={"lat": 31.2, "lon": 121.4})
        assert reply.status_code == 403


@pytest.mark.parametrize("path", ["/ws/ops", "/ws/unit"])
async def test_sockets_close_with_policy_violation_on_bad_tokens(center: Center, path: str) -> None:
    """A forged or expired token, or none, closes the socket with code 1008."""
    expired = center.signer.issue(Role.ADMIN, "late", ttl_s=-10)
    for first in ('{"type":"auth","token":"nonsense"}', f'{{"type":"auth","token":"{expired}"}}', "hello"):
        async with websockets.connect(center.ws_url + path) as ws:
            await ws.send(first)
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_unit_socket_refuses_other_roles(center: Center) -> None:
    """Only a unit's own token opens /ws/unit; a display token is refused."""
    ws = await center.socket("/ws/unit", Role.DISPLAY)
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_health_needs_no_token(center: Center) -> None:
    """Liveness and readiness answer without a token, for load balancers."""
    async with httpx.AsyncClient(base_url=center.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "redis": "ok",
            "schema": "ok",
            "postgres": "ok",
        }

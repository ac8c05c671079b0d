"""One alert travels from intake to the nearest available unit and the wall screen."""

from __future__ import annotations

from core.roles import Role
from tests.conftest import Center, receive, receive_until
from tests.helpers import add_unit

# a robbery on Nanjing Road; patrol cars around it (WGS-84)
SCENE = (31.2350, 121.4750)


async def test_alert_reaches_nearest_available_unit_and_wall(center: Center) -> None:
    """The nearest available patrol car gets the offer; a busy nearer one does not; the wall sees both."""
    busy = await add_unit(center, "P-BUSY", status="out_of_service", at=(SCENE[0] + 0.0005, SCENE[1]))
    near = await add_unit(center, "P-NEAR", status="available", at=(SCENE[0] + 0.004, SCENE[1]))  # ~450 m
    mid = await add_unit(center, "P-MID", status="available", at=(SCENE[0] + 0.012, SCENE[1]))  # ~1.3 km
    far = await add_unit(center, "P-FAR", status="available", at=(SCENE[0] - 0.03, SCENE[1]))  # ~3.3 km

    sockets = {u: await center.socket("/ws/unit", Role.UNIT, u) for u in (busy, near, mid, far)}
    for ws in sockets.values():
        assert (await receive(ws))["type"] == "hello"
    wall = await center.socket("/ws/ops", Role.DISPLAY)
    snapshot = await receive(wall)
    assert snapshot["type"] == "snapshot"
    assert {u["callsign"] for u in snapshot["state"]["units"]} == {"P-BUSY", "P-NEAR", "P-MID", "P-FAR"}

    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post(
            "/api/v1/alerts",
            json={"channel": "110", "category": "robbery_in_progress",
                  "location": {"lat": SCENE[0], "lon": SCENE[1], "address": "Nanjing Rd E 300"},
                  "caller_phone": "13800138000"},
        )  # fmt: skip
    assert reply.status_code == 202, reply.text
    incident_id = reply.json()["incident_id"]

    offer = await receive_until(sockets[near], lambda m: m.get("kind") == "assignment.offered")
    assert offer["incident_id"] == incident_id and offer["unit_id"] == near

    created = await receive_until(wall, lambda m: m.get("kind") == "incident.created")
    assert created["incident_id"] == incident_id
    offered = await receive_until(wall, lambda m: m.get("kind") == "assignment.offered")
    assert offered["incident_id"] == incident_id
    assert created["seq"] < offered["seq"]
    offered_units = {offered["unit_id"]}
    # robbery in progress asks for two patrol cars: the second nearest available is offered too
    second = await receive_until(wall, lambda m: m.get("kind") == "assignment.offered")
    offered_units.add(second["unit_id"])
    assert offered_units == {near, mid}

    # the busy unit, though nearest, got nothing
    await sockets[busy].send('{"type":"status","status":"available"}')
    ack = await receive_until(sockets[busy], lambda m: m.get("type") in ("ack", "error"))
    assert ack["type"] == "ack"
    for ws in [*sockets.values(), wall]:
        await ws.close()

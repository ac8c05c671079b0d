"""The panic button, against a real center: over HTTP and over /ws/unit it opens one priority-1 incident
at the unit's last fix and offers the two nearest units of the unit's own service at once (never the
unit itself, whatever it is doing), a second press returns the open one, a dispatcher's acknowledgement
and a cancel are events with their actors, and nobody raises a panic for another unit."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from core.roles import Role
from tests.conftest import Center, receive_until
from tests.helpers import WAIT_S, add_unit, ops_socket, post_alert, unit_socket, wait_until

HERE = (31.2350, 121.4750)


def north(metres: float) -> tuple[float, float]:
    return (HERE[0] + metres / 111_320, HERE[1])


async def offered(center: Center, incident_id: int, count: int) -> dict[str, Any]:
    """The incident once ``count`` units were offered to it."""
    async with center.client(Role.DISPATCHER) as desk:

        async def probe() -> dict[str, Any]:
            found: dict[str, Any] = (await desk.get(f"/api/v1/incidents/{incident_id}")).json()
            return found if len(found["assignments"]) >= count else {}

        return await wait_until(probe)


async def crews(center: Center, kind: str = "patrol_car", prefix: str = "P") -> dict[str, int]:
    """Three units of a kind at 200, 500 and 3000 m from HERE, and an ambulance right beside it."""
    found = {f"{prefix}-{m}": await add_unit(center, f"{prefix}-{m}", kind, "available", north(m))
             for m in (200, 500, 3000)}  # fmt: skip
    found["A-1"] = await add_unit(center, "A-1", "ambulance", "available", north(20))
    return found


async def busy(center: Center, unit_id: int) -> None:
    """The unit is offered a call right where it is (the only unit then)."""
    incident_id = (await post_alert(center, HERE, "assault"))["incident_id"]
    await offered(center, incident_id, 1)


@pytest.mark.parametrize("doing", ["available", "off_duty", "on_assignment"])
async def test_a_panic_over_http_offers_the_two_nearest_of_its_own_service(
    center: Center, db: asyncpg.Connection, doing: str
) -> None:
    me = await add_unit(center, "P-0", "patrol_car", "off_duty" if doing == "off_duty" else "available", HERE)
    if doing == "on_assignment":
        await busy(center, me)
    others = await crews(center)
    async with center.client(Role.UNIT, me) as phone:
        reply = await phone.post(f"/api/v1/units/{me}/panic")
        assert reply.status_code == 201, reply.text
        panic = reply.json()
        assert panic["repeated"] is False and panic["unit_id"] == me and panic["via"] == "http"
        assert (panic["lat"], panic["lon"]) == pytest.approx(HERE)
        incident = await offered(center, panic["incident_id"], 2)
        assert incident["category"] == "officer_needs_help" and incident["priority"] == 1
        assert (incident["lat"], incident["lon"]) == pytest.approx(HERE)
        sent = {a["unit_id"] for a in incident["assignments"]}
        assert sent == {others["P-200"], others["P-500"]}  # not itself, not the ambulance beside it
        kinds = [e["kind"] for e in incident["timeline"]]
        assert kinds[:2] == ["incident.created", "unit.panic"]
        assert [e["actor"] for e in incident["timeline"] if e["kind"] == "unit.panic"] == ["unit:test-unit"]

        again = await phone.post(f"/api/v1/units/{me}/panic")
        assert again.status_code == 200, again.text
        assert again.json()["repeated"] is True and again.json()["id"] == panic["id"]
    count = await db.fetchval("select count(*) from incidents where category = 'officer_needs_help'")
    assert count == 1


async def test_a_fire_crew_in_trouble_gets_fire_crews(center: Center) -> None:
    me = await add_unit(center, "F-0", "fire_engine", "available", HERE)
    await crews(center)  # police nearer than any fire crew
    near = ((900, "ladder_truck"), (1200, "fire_engine"), (4000, "rescue_truck"))
    fire = {m: await add_unit(center, f"F-{m}", kind, "available", north(m)) for m, kind in near}
    async with center.client(Role.INTEGRATION) as gateway:  # a radio gateway presses for it
        reply = await gateway.post(f"/api/v1/units/{me}/panic", json={"lat": HERE[0], "lon": HERE[1]})
        assert reply.status_code == 201, reply.text
    incident = await offered(center, reply.json()["incident_id"], 2)
    assert {a["unit_id"] for a in incident["assignments"]} == {fire[900], fire[1200]}


async def test_a_panic_over_the_socket_is_acknowledged_and_cancelled(center: Center) -> None:
    me = await add_unit(center, "P-0", "patrol_car", "available", HERE)
    others = await crews(center)
    screen = await ops_socket(center)
    ws = await unit_socket(center, me)
    try:
        await ws.send(orjson.dumps({"type": "panic", "ref": 7, "lat": HERE[0], "lon": HERE[1]}).decode())
        ack = await receive_until(ws, lambda f: f.get("ref") == 7, WAIT_S)
        assert ack["type"] == "ack" and ack["repeated"] is False, ack
        incident_id = ack["panic"]["incident_id"]
        raised = await receive_until(screen, lambda f: f.get("kind") == "unit.panic", WAIT_S)
        assert raised["unit_id"] == me and raised["data"]["callsign"] == "P-0"
        incident = await offered(center, incident_id, 2)
        assert {a["unit_id"] for a in incident["assignments"]} == {others["P-200"], others["P-500"]}

        await ws.send(orjson.dumps({"type": "panic", "ref": 8}).decode())
        again = await receive_until(ws, lambda f: f.get("ref") == 8, WAIT_S)
        assert again["repeated"] is True and again["panic"]["incident_id"] == incident_id

        async with center.client(Role.UNIT, me) as phone:  # a unit does not acknowledge its own panic
            assert (await phone.post(f"/api/v1/units/{me}/panic/acknowledge")).status_code == 403
        async with center.client(Role.DISPATCHER) as desk:
            reply = await desk.post(f"/api/v1/units/{me}/panic/acknowledge")
            assert reply.status_code == 200, reply.text
            assert reply.json()["acknowledged_by"] == "dispatcher:test-dispatcher"
        told = await receive_until(ws, lambda f: f.get("kind") == "unit.panic_acknowledged", WAIT_S)
        assert told["actor"] == "dispatcher:test-dispatcher" and told["incident_id"] == incident_id

        await ws.send(orjson.dumps({"type": "panic_cancel", "ref": 9}).decode())
        refused = await receive_until(ws, lambda f: f.get("ref") == 9, WAIT_S)
        assert refused["type"] == "error" and refused["field"] == "confirm"
        await ws.send(orjson.dumps({"type": "panic_cancel", "ref": 10, "confirm": True}).decode())
        done = await receive_until(ws, lambda f: f.get("ref") == 10, WAIT_S)
        assert done["type"] == "ack", done
        cancelled = await receive_until(screen, lambda f: f.get("kind") == "unit.panic_cancelled", WAIT_S)
        assert cancelled["actor"] == "unit:test-unit"
    finally:
        await ws.close()
        await screen.close()
    async with center.client(Role.DISPATCHER) as desk:
        kinds = [e["kind"] for e in (await desk.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]]
        assert {"unit.panic", "unit.panic_acknowledged", "unit.panic_cancelled"} <= set(kinds)
        # cancelled, the incident stays for a dispatcher to close; a new press opens a new panic
    async with center.client(Role.UNIT, me) as phone:
        assert (
            await phone.post(f"/api/v1/units/{me}/panic/cancel", json={"confirm": True})
        ).status_code == 404
        fresh = await phone.post(f"/api/v1/units/{me}/panic")
        assert fresh.status_code == 201 and fresh.json()["incident_id"] != incident_id


async def test_nobody_raises_a_panic_for_another_unit(center: Center) -> None:
    me = await add_unit(center, "P-0", "patrol_car", "available", HERE)
    other = await add_unit(center, "P-1", "patrol_car", "available", north(100))
    async with center.client(Role.UNIT, other) as stranger:
        assert (await stranger.post(f"/api/v1/units/{me}/panic")).status_code == 403
        assert (await stranger.post(f"/api/v1/units/{me}/panic/cancel", json={"confirm": True})
                ).status_code == 403  # fmt: skip
    for role in (Role.DISPLAY, Role.CALL_TAKER, Role.DISPATCHER):
        async with center.client(role) as them:
            assert (await them.post(f"/api/v1/units/{me}/panic")).status_code == 403, role
    async with center.client(Role.UNIT, me) as phone:
        bad = await phone.post(f"/api/v1/units/{me}/panic", json={"lat": 91, "lon": 121})
        assert bad.status_code == 422
        assert (
            await phone.post(f"/api/v1/units/{me}/panic/cancel", json={"confirm": True})
        ).status_code == 404

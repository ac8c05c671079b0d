"""Every change of an incident reaches the units on it: a dispatcher's correction, another unit sent or
stood down, a close; and only those units, only while they are on it."""

from __future__ import annotations

import asyncio
from typing import Any

from core.roles import Role
from realtime.incident_news import news
from tests.conftest import Center, receive_until
from tests.helpers import add_unit, unit_socket
from tests.test_lifecycle import SCENE, assault, east, settled


def update_of(event: str) -> Any:
    return lambda f: f.get("type") == "incident_update" and f.get("event") == event


async def nothing_about(ws: Any, incident_id: int, for_s: float = 1.5) -> None:
    """No incident update arrives on ``ws`` for a while (a unit not on the incident hears nothing)."""
    try:
        while True:
            frame = await asyncio.wait_for(ws.recv(), for_s)
            assert '"incident_update"' not in frame, frame
    except TimeoutError:
        pass


async def test_units_on_an_incident_hear_of_its_changes_and_others_do_not(center: Center) -> None:
    first = await add_unit(center, "P-1", status="available", at=east(1))
    other = await add_unit(center, "P-2", status="available", at=east(3))
    elsewhere = await add_unit(center, "P-3", status="available", at=east(40))
    ws_first, ws_second, ws_far = [await unit_socket(center, u) for u in (first, other, elsewhere)]
    incident_id = await assault(center, SCENE, priority=3)
    offer = await receive_until(ws_first, lambda f: f.get("kind") == "assignment.offered", 30)
    assert offer["incident_id"] == incident_id

    async with center.client(Role.DISPATCHER) as desk:
        # a dispatcher corrects the incident: the unit on it is told what changed
        reply = await desk.patch(f"/api/v1/incidents/{incident_id}",
                                 json={"priority": 1, "address": "No. 8 Middle Road"})  # fmt: skip
        assert reply.status_code == 200, reply.text
        assert reply.json()["priority"] == 1 and reply.json()["address"] == "No. 8 Middle Road"
        update = await receive_until(ws_first, update_of("incident.updated"), 30)
        assert update["incident_id"] == incident_id
        assert update["changes"]["priority"] == {"from": 3, "to": 1}
        assert "3 → 1" in update["text"] and "address" in update["text"]

        # a second unit sent: the first hears of it, the second gets its own offer as its own event
        sent = await desk.post(f"/api/v1/incidents/{incident_id}/assignments", json={"unit_ids": [other]})
        assert sent.status_code == 201, sent.text
        also = await receive_until(ws_first, update_of("assignment.offered"), 30)
        assert "P-2" in also["text"]
        own = await receive_until(
            ws_second,
            lambda f: f.get("kind") == "assignment.offered" or f.get("type") == "incident_update",
            30,
        )
        assert own["type"] == "event" and own["kind"] == "assignment.offered"

        # the second unit is stood down: the first hears of it; the second is off the incident now
        second_assignment = sent.json()["offered"][0]["id"]
        cancelled = await desk.post(f"/api/v1/assignments/{second_assignment}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        gone = await receive_until(ws_first, update_of("assignment.cancelled"), 30)
        assert "P-2" in gone["text"]
        await receive_until(ws_second, lambda f: f.get("kind") == "assignment.cancelled", 30)
        await desk.patch(f"/api/v1/incidents/{incident_id}", json={"description": "two people, one armed"})
        notes = await receive_until(ws_first, update_of("incident.updated"), 30)
        assert "notes" in notes["text"]
        await nothing_about(ws_second, incident_id)
    await nothing_about(ws_far, incident_id)
    for ws in (ws_first, ws_second, ws_far):
        await ws.close()


async def test_a_reconnecting_unit_follows_its_incident_again(center: Center) -> None:
    unit = await add_unit(center, "P-1", status="available", at=east(1))
    ws = await unit_socket(center, unit)
    incident_id = await assault(center, SCENE)
    await receive_until(ws, lambda f: f.get("kind") == "assignment.offered", 30)
    await ws.close()
    again = await unit_socket(center, unit)  # its hello lists the assignment: it follows the incident
    async with center.client(Role.DISPATCHER) as desk:
        reply = await desk.patch(f"/api/v1/incidents/{incident_id}", json={"lat": SCENE[0] + 0.001,
                                                                            "lon": SCENE[1]})  # fmt: skip
        assert reply.status_code == 200, reply.text
    moved = await receive_until(again, update_of("incident.updated"), 30)
    assert moved["changes"]["lat"]["to"] == SCENE[0] + 0.001 and "location" in moved["text"]
    await again.close()


async def test_a_bad_correction_changes_nothing(center: Center) -> None:
    incident_id = await assault(center, SCENE, priority=2)
    async with center.client(Role.DISPATCHER) as desk:
        refused = [({"lat": 31.0}, "lon"), ({"priority": 0}, "priority"), ({"priority": None}, "priority"),
                   ({"lat": 91, "lon": 121.0}, "lat"), ({"status": "closed"}, "status")]  # fmt: skip
        for body, field in refused:
            reply = await desk.patch(f"/api/v1/incidents/{incident_id}", json=body)
            assert reply.status_code == 422, (body, reply.text)
            assert field in reply.text
        same = await desk.patch(f"/api/v1/incidents/{incident_id}", json={"priority": 2})
        assert same.status_code == 200  # no change: nothing written, no event
        found = await settled(center, incident_id, lambda i: i["status"] == "pending")
        assert found["priority"] == 2
        assert not [e for e in found["timeline"] if e["kind"] == "incident.updated"]
        closed = await desk.post(f"/api/v1/incidents/{incident_id}/close")
        assert closed.status_code == 200, closed.text
        late = await desk.patch(f"/api/v1/incidents/{incident_id}", json={"priority": 1})
        assert late.status_code == 409, late.text


def test_the_words_a_crew_hears() -> None:
    def event(kind: str, unit_id: int | None = None, **data: Any) -> dict[str, Any]:
        return {"kind": kind, "unit_id": unit_id, "incident_id": 5, "data": data}

    changes = {"priority": {"from": 3, "to": 1}, "lat": {"from": 1, "to": 2}, "lon": {"from": 1, "to": 2}}
    assert news(event("incident.updated", changes=changes), me=1) == (
        "事件已更新 Incident updated: 优先级 priority 3 → 1; 地点 location 已更新 changed"
    )
    assert news(event("incident.updated", changes={}), me=1) is None
    assert news(event("assignment.offered", 2, callsign="P-2"), me=1) == "P-2 增派 also sent"
    assert news(event("assignment.offered", 1, callsign="P-1"), me=1) is None  # its own offer
    assert news(event("assignment.on_scene", 2), me=1) == "unit 2 已到场 on scene"
    assert "merged" in (news(event("incident.merged_in", from_incident=4, priority=1), me=1) or "")
    assert news(event("incident.closed"), me=1) == "事件已结案 Incident closed"
    assert news(event("unit.status_changed", 2), me=1) is None
    assert news({"kind": "incident.updated", "data": "junk"}, me=1) is None

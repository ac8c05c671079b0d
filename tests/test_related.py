"""A dispatcher corrects related-call linking: unlink a call into its own incident, merge two incidents."""

from __future__ import annotations

import asyncio
from typing import Any

from core.roles import Role
from tests.conftest import Center

SCENE = {"lat": 31.2350, "lon": 121.4750}
FAR = {"lat": 31.2600, "lon": 121.5100}  # about 4 km away


async def call(center: Center, category: str, where: dict[str, float], phone: str) -> dict[str, Any]:
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post(
            "/api/v1/alerts",
            json={"channel": "110", "category": category, "location": where, "caller_phone": phone},
        )
        assert reply.status_code == 202, reply.text
        answer: dict[str, Any] = reply.json()
        return answer


async def incident(center: Center, incident_id: int) -> dict[str, Any]:
    async with center.client(Role.DISPATCHER) as dispatcher:
        reply = await dispatcher.get(f"/api/v1/incidents/{incident_id}")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found


async def test_unlinked_call_gets_its_own_incident_and_is_dispatched(center: Center) -> None:
    """An unlinked call opens its own incident, is handled by a dispatcher, and both timelines say so."""
    first = await call(center, "fight", SCENE, "13800000001")
    second = await call(center, "fight", SCENE, "13800000002")
    assert second["status"] == "linked" and second["linked_to"] == first["incident_id"]

    async with center.client(Role.DISPATCHER) as dispatcher:
        reply = await dispatcher.post(f"/api/v1/alerts/{second['alert_id']}/unlink")
        assert reply.status_code == 200, reply.text
        new_id = reply.json()["incident_id"]
        assert new_id != first["incident_id"]
        # the only alert of an incident cannot be unlinked from it
        again = await dispatcher.post(f"/api/v1/alerts/{second['alert_id']}/unlink")
        assert again.status_code == 409, again.text

    old, new = await incident(center, first["incident_id"]), await incident(center, new_id)
    assert [a["id"] for a in old["alerts"]] == [first["alert_id"]]
    assert [a["id"] for a in new["alerts"]] == [second["alert_id"]]
    assert "alert.unlinked" in [e["kind"] for e in old["timeline"]]
    assert new["timeline"][0]["kind"] == "incident.created"
    assert new["timeline"][0]["actor"] == "dispatcher:test-dispatcher"
    # the new incident went through the dispatcher like a new call (no units: it waits, with a shortfall)
    for _ in range(100):
        new = await incident(center, new_id)
        if new["status"] != "received":
            break
        await asyncio.sleep(0.05)
    assert new["status"] == "pending", new["status"]
    assert new["shortfall"]


async def test_merge_moves_alerts_and_closes_the_duplicate(center: Center) -> None:
    """Merging moves every alert to the survivor, keeps the higher priority, and closes the other."""
    kept = await call(center, "fight", SCENE, "13800000001")
    duplicate = await call(center, "robbery_in_progress", FAR, "13800000002")
    assert duplicate["status"] == "new_incident"

    async with center.client(Role.DISPATCHER) as dispatcher:
        reply = await dispatcher.post(
            f"/api/v1/incidents/{duplicate['incident_id']}/merge", json={"into": kept["incident_id"]}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["priority"] == min(kept["priority"], duplicate["priority"])
        # merging into itself, into an unknown incident, or a closed one is refused
        assert (
            await dispatcher.post(
                f"/api/v1/incidents/{kept['incident_id']}/merge", json={"into": kept["incident_id"]}
            )
        ).status_code == 409
        assert (
            await dispatcher.post(f"/api/v1/incidents/{kept['incident_id']}/merge", json={"into": 999999})
        ).status_code == 404
        assert (
            await dispatcher.post(
                f"/api/v1/incidents/{duplicate['incident_id']}/merge", json={"into": kept["incident_id"]}
            )
        ).status_code == 409
        open_ids = [i["id"] for i in (await dispatcher.get("/api/v1/incidents")).json()["items"]]

    survivor = await incident(center, kept["incident_id"])
    closed = await incident(center, duplicate["incident_id"])
    assert sorted(a["id"] for a in survivor["alerts"]) == [kept["alert_id"], duplicate["alert_id"]]
    assert closed["status"] == "closed" and closed["close_reason"] == "merged"
    assert closed["merged_into"] == kept["incident_id"]
    assert duplicate["incident_id"] not in open_ids
    assert "incident.merged" in [e["kind"] for e in closed["timeline"]]
    assert "incident.merged_in" in [e["kind"] for e in survivor["timeline"]]


async def test_only_dispatchers_unlink_and_merge(center: Center) -> None:
    """A call taker or a wall screen can neither unlink nor merge."""
    first = await call(center, "fight", SCENE, "13800000001")
    second = await call(center, "fight", SCENE, "13800000002")
    for role in (Role.CALL_TAKER, Role.DISPLAY, Role.UNIT, Role.GRID_WORKER):
        async with center.client(role, 1 if role is Role.UNIT else None) as client:
            assert (await client.post(f"/api/v1/alerts/{second['alert_id']}/unlink")).status_code == 403
            merge = await client.post(
                f"/api/v1/incidents/{first['incident_id']}/merge", json={"into": first["incident_id"]}
            )
            assert merge.status_code == 403

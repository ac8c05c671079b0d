"""An incident the dispatcher cannot handle at all raises an alarm and waits for a dispatcher; it
never waits silently in 'received', and it keeps nobody else from being served."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from center.runtime import Roles
from core.roles import Role
from tests.conftest import Stores, center_settings, receive, receive_until, serving, wipe

WAIT_S = 30.0
ROBBERY = {"channel": "110", "category": "noise_complaint", "location": {"lat": 31.2350, "lon": 121.4750}}


async def test_an_alert_that_cannot_be_dispatched_becomes_an_alarm(stores: Stores, tmp_path: Path) -> None:
    """A call whose category left the catalogue after it was accepted: pending with the reason for a
    dispatcher; a normal call after it is still offered, and no job is stuck on the odd one."""
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path, auto_dispatch_all=True, pending_sweep_every_s=0.5)
    async with serving(settings, Roles(dispatch=False, scheduler=False)) as intake:
        async with intake.client(Role.CALL_TAKER) as taker:
            odd = (await taker.post("/api/v1/alerts", json=ROBBERY)).json()
        db = await asyncpg.connect(stores.database_url)
        try:
            await db.execute("update incidents set category = 'withdrawn' where id = $1", odd["incident_id"])
            await db.execute("update alerts set category = 'withdrawn' where id = $1", odd["alert_id"])
        finally:
            await db.close()
    async with serving(settings) as center:
        async with center.client(Role.ADMIN) as admin:
            unit = (await admin.post("/api/v1/units", json={"callsign": "P-1", "kind": "patrol_car",
                                                              "status": "available"})).json()  # fmt: skip
        async with center.client(Role.UNIT, unit["id"]) as phone:
            fix = {"lat": 31.2360, "lon": 121.4760, "at": time.time()}
            assert (await phone.put(f"/api/v1/units/{unit['id']}/location", json=fix)).status_code == 200
        ws = await center.socket("/ws/ops", Role.DISPATCHER)
        try:
            assert (await receive(ws, WAIT_S))["type"] == "snapshot"
            async with center.client(Role.DISPATCHER) as desk:
                deadline = time.monotonic() + WAIT_S
                while (incident := (await desk.get(f"/api/v1/incidents/{odd['incident_id']}")).json())[
                    "status"
                ] == "received":
                    assert time.monotonic() < deadline, incident
                    await asyncio.sleep(0.2)
                assert incident["status"] == "pending", incident
                [short] = incident["shortfall"]
                assert short["code"] == "cannot_dispatch" and "withdrawn" in short["reason"], short
            async with center.client(Role.CALL_TAKER) as taker:
                fine = (await taker.post("/api/v1/alerts", json=ROBBERY | {
                    "location": {"lat": 31.2500, "lon": 121.4900}})).json()  # fmt: skip
            offered = await receive_until(
                ws, lambda m: m.get("type") == "event" and m["kind"] == "assignment.offered"
                and m["incident_id"] == fine["incident_id"], WAIT_S,
            )  # fmt: skip
            assert offered["unit_id"] == unit["id"]
        finally:
            await ws.close()
        async with center.client(None) as probe:
            reply = await probe.get("/readyz")
            assert reply.status_code == 200, reply.text  # no job stuck on the odd incident

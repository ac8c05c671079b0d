"""The roster over its life: admins change and retire units, phone tracker apps report positions, the
breadcrumb trail is kept and pruned, and stale positions are marked for dispatch and the wall."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from core.roles import Role
from tests.conftest import Center, receive_until
from units import history

SCENE = (31.2350, 121.4750)


async def add_unit(center: Center, callsign: str, kind: str = "patrol_car", **fields: Any) -> dict[str, Any]:
    async with center.client(Role.ADMIN) as admin:
        reply = await admin.post(
            "/api/v1/units", json={"callsign": callsign, "kind": kind, "status": "available", **fields}
        )
        assert reply.status_code == 201, reply.text
        unit: dict[str, Any] = reply.json()
        return unit


async def put_fix(center: Center, unit_id: int, lat: float, lon: float, at: float) -> str:
    async with center.client(Role.UNIT, unit_id) as unit:
        reply = await unit.put(f"/api/v1/units/{unit_id}/location", json={"lat": lat, "lon": lon, "at": at})
        verdict: str = reply.json().get("verdict", str(reply.status_code))
        return verdict


async def indexed(center: Center, kind: str) -> set[int]:
    redis = aioredis.Redis.from_url(center.settings.redis_url or "")
    try:
        members: Any = await redis.zrange(f"{{units}}:avail:{kind}", 0, -1)
    finally:
        await redis.aclose()
    return {int(m.decode().rsplit(":", 1)[1]) for m in members}


async def test_osmand_tracker_app_reports_positions(center: Center) -> None:
    """A phone tracker app with its issued device id moves its unit; unknown ids and bad fixes are refused."""
    unit = await add_unit(center, "P-OSM")
    async with center.client(Role.ADMIN) as admin:
        issued = (await admin.post(f"/api/v1/units/{unit['id']}/tracker")).json()
    device = issued["device_id"]
    t0 = int(time.time()) - 60
    async with httpx.AsyncClient(base_url=center.url) as app:
        # OsmAnd sends GET, Traccar Client POST; both with the fields in the query string
        first = await app.get("/api/v1/osmand", params={
            "id": device, "lat": SCENE[0], "lon": SCENE[1], "timestamp": t0, "speed": 10, "bearing": 90,
            "altitude": 12, "accuracy": 8, "batt": 77,
        })  # fmt: skip
        assert first.status_code == 200 and first.headers["X-Fix-Verdict"] == "ok", first.text
        later = datetime.fromtimestamp(t0 + 30, UTC).isoformat()
        second = await app.post("/api/v1/osmand", params={
            "id": device, "lat": SCENE[0] + 0.001, "lon": SCENE[1], "timestamp": later,
        })  # fmt: skip
        assert second.headers["X-Fix-Verdict"] == "ok"
        millis = await app.get("/api/v1/osmand", params={
            "id": device, "lat": SCENE[0], "lon": SCENE[1], "timestamp": (t0 + 10) * 1000,
        })  # fmt: skip
        assert millis.headers["X-Fix-Verdict"] == "old"  # older than the last one: ignored
        unknown = await app.get("/api/v1/osmand", params={"id": "nope", "lat": 1, "lon": 1})
        assert unknown.status_code == 401
        bad = await app.get("/api/v1/osmand", params={"id": device, "lat": 95, "lon": 1})
        assert bad.status_code == 422 and bad.json()["field"] == "lat"

        # a new device id replaces the old one
        async with center.client(Role.ADMIN) as admin:
            await admin.post(f"/api/v1/units/{unit['id']}/tracker")
        stale = await app.get("/api/v1/osmand", params={"id": device, "lat": 1, "lon": 1})
        assert stale.status_code == 401

    async with center.client(Role.DISPATCHER) as dispatcher:
        trail = (await dispatcher.get(
            f"/api/v1/units/{unit['id']}/positions", params={"since": "2000-01-01T00:00:00Z"}
        )).json()["fixes"]  # fmt: skip
    for _ in range(30):
        if len(trail) == 2:
            break
        await asyncio.sleep(0.1)
        async with center.client(Role.DISPATCHER) as dispatcher:
            trail = (await dispatcher.get(
                f"/api/v1/units/{unit['id']}/positions", params={"since": "2000-01-01T00:00:00Z"}
            )).json()["fixes"]  # fmt: skip
    assert [f["lat"] for f in trail] == [SCENE[0], SCENE[0] + 0.001]
    assert abs(trail[0]["speed_mps"] - 5.14444) < 1e-3  # 10 knots
    assert trail[0]["heading"] == 90 and trail[0]["accuracy_m"] == 8


async def test_admin_changes_a_unit_and_its_index_follows(center: Center) -> None:
    """A new kind moves the unit between kind indexes; a taken callsign is refused; only admins change."""
    unit = await add_unit(center, "P-CHG")
    await add_unit(center, "P-OTHER")
    assert await put_fix(center, unit["id"], *SCENE, time.time()) == "ok"
    assert unit["id"] in await indexed(center, "patrol_car")
    async with center.client(Role.ADMIN) as admin:
        changed = await admin.patch(
            f"/api/v1/units/{unit['id']}", json={"kind": "motorcycle_patrol", "capabilities": ["armed"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["kind"] == "motorcycle_patrol" and changed.json()["capabilities"] == ["armed"]
        taken = await admin.patch(f"/api/v1/units/{unit['id']}", json={"callsign": "P-OTHER"})
        assert taken.status_code == 409 and taken.json()["field"] == "callsign"
        unknown = await admin.patch(f"/api/v1/units/{unit['id']}", json={"kind": "submarine"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "kind"
    assert unit["id"] not in await indexed(center, "patrol_car")
    assert unit["id"] in await indexed(center, "motorcycle_patrol")
    async with center.client(Role.DISPATCHER) as dispatcher:
        assert (await dispatcher.patch(f"/api/v1/units/{unit['id']}", json={"crew": 3})).status_code == 403


async def test_retiring_is_refused_on_an_assignment_and_then_removes_the_unit(center: Center) -> None:
    """A unit on an assignment cannot be retired; once free it can, and then it is gone from dispatch."""
    unit = await add_unit(center, "P-RET")
    assert await put_fix(center, unit["id"], *SCENE, time.time()) == "ok"
    unit_ws = await center.socket("/ws/unit", Role.UNIT, unit["id"])
    await receive_until(unit_ws, lambda m: m.get("type") == "hello")
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post("/api/v1/alerts", json={
            "channel": "110", "category": "robbery_in_progress",
            "location": {"lat": SCENE[0], "lon": SCENE[1]},
        })  # fmt: skip
        assert reply.status_code == 202
    offer = await receive_until(unit_ws, lambda m: m.get("kind") == "assignment.offered")
    await unit_ws.close()

    async with center.client(Role.ADMIN) as admin:
        refused = await admin.post(f"/api/v1/units/{unit['id']}/retire")
        assert refused.status_code == 409 and refused.json()["status"] == "offered", refused.text
        async with center.client(Role.UNIT, unit["id"]) as own:
            declined = await own.post(f"/api/v1/assignments/{offer['assignment_id']}/decline")
            assert declined.status_code == 200, declined.text
        retired = await admin.post(f"/api/v1/units/{unit['id']}/retire")
        assert retired.status_code == 200 and retired.json()["retired"] is True
        assert (await admin.post(f"/api/v1/units/{unit['id']}/retire")).status_code == 409
        listed = [u["id"] for u in (await admin.get("/api/v1/units")).json()["items"]]
    assert unit["id"] not in listed
    assert unit["id"] not in await indexed(center, "patrol_car")
    assert await put_fix(center, unit["id"], *SCENE, time.time() + 5) == "404"


async def test_trail_by_time_range_and_retention(center: Center) -> None:
    """The trail answers a time range, a unit reads only its own, and retention deletes old fixes."""
    a, b = await add_unit(center, "P-TRAIL"), await add_unit(center, "P-TRAIL-2")
    t0 = time.time() - 3600
    for i in range(5):
        assert await put_fix(center, a["id"], SCENE[0] + i * 0.001, SCENE[1], t0 + i * 60) == "ok"
    pool = await asyncpg.create_pool(center.settings.database_url, min_size=1, max_size=2)
    try:
        for _ in range(50):
            if await pool.fetchval("select count(*) from positions where unit_id = $1", a["id"]) == 5:
                break
            await asyncio.sleep(0.1)
        since = datetime.fromtimestamp(t0 + 60, UTC)
        until = datetime.fromtimestamp(t0 + 180, UTC)
        async with center.client(Role.UNIT, a["id"]) as own:
            window = {"since": since.isoformat(), "until": until.isoformat()}
            reply = await own.get(f"/api/v1/units/{a['id']}/positions", params=window)
            assert [round(f["lat"], 3) for f in reply.json()["fixes"]] == [31.236, 31.237]
        async with center.client(Role.UNIT, b["id"]) as other:
            assert (await other.get(f"/api/v1/units/{a['id']}/positions",
                                    params={"since": since.isoformat()})).status_code == 403  # fmt: skip
        # keep the last 30 minutes only: every one of these is older
        assert await history.prune(pool, timedelta(minutes=30), chunk=2) == 5
        assert await pool.fetchval("select count(*) from positions where unit_id = $1", a["id"]) == 0
    finally:
        await pool.close()


async def test_stale_positions_are_penalised_and_shown_stale(center: Center) -> None:
    """A unit silent past its kind's limit ranks after a fresh one, with a reason; the wall marks it."""
    stale = await add_unit(center, "P-STALE")
    fresh = await add_unit(center, "P-FRESH")
    # the stale car is nearer, but its last fix is 10 minutes old (patrol cars go stale after 60 s)
    assert await put_fix(center, stale["id"], SCENE[0] + 0.001, SCENE[1], time.time() - 600) == "ok"
    assert await put_fix(center, fresh["id"], SCENE[0] + 0.004, SCENE[1], time.time()) == "ok"
    async with center.client(Role.CALL_TAKER) as taker:
        incident_id = (await taker.post("/api/v1/alerts", json={
            "channel": "110", "category": "theft", "location": {"lat": SCENE[0], "lon": SCENE[1]},
        })).json()["incident_id"]  # fmt: skip
    async with center.client(Role.DISPATCHER) as dispatcher:
        rec = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/recommendation")).json()
    ranked = rec["picks"] + rec["alternatives"]
    assert [r["unit_id"] for r in ranked][:2] == [fresh["id"], stale["id"]]
    assert "stale_position_penalised" in ranked[1]["reasons"]

    wall = await center.socket("/ws/ops", Role.DISPLAY)
    snapshot = await receive_until(wall, lambda m: m.get("type") == "snapshot")
    await wall.close()
    marks = {u["id"]: u["stale"] for u in snapshot["state"]["units"]}
    assert marks == {stale["id"]: True, fresh["id"]: False}

"""A position fix from a wrong clock is refused on every path, and none can freeze a unit, stop the
position history or keep screens from their snapshot."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from core.roles import Role
from tests.conftest import Center, receive, receive_until
from tests.helpers import add_unit
from units.live import unit_key

WAIT_S = 30.0
HERE = {"lat": 31.2300, "lon": 121.4700}


async def test_a_single_fix_from_a_wrong_clock_is_refused_naming_at(center: Center) -> None:
    """PUT .../location with a far-future, a day-ahead or a month-old time: 422 on 'at', nothing kept."""
    unit_id = await add_unit(center, "P-9")
    async with center.client(Role.UNIT, unit_id) as unit:
        for at in (1e12, 1e20, time.time() + 3600, time.time() - 30 * 86400):
            reply = await unit.put(f"/api/v1/units/{unit_id}/location", json=HERE | {"at": at})
            assert reply.status_code == 422, (at, reply.text)
            assert reply.json()["field"] == "at", reply.text
        # a real fix afterwards is the unit's position: nothing of the refused ones stayed behind
        now = time.time()
        reply = await unit.put(f"/api/v1/units/{unit_id}/location", json=HERE | {"at": now})
        assert reply.json()["verdict"] == "ok", reply.text
        # a clock a little fast is a phone, not a fault
        reply = await unit.put(f"/api/v1/units/{unit_id}/location", json=HERE | {"at": now + 60})
        assert reply.json()["verdict"] == "ok", reply.text


async def test_a_batch_refuses_only_its_bad_fixes(center: Center) -> None:
    """One far-future and one old fix in a batch are counted as refused; the good ones are taken."""
    a, b = await add_unit(center, "P-1"), await add_unit(center, "P-2")
    now = time.time()
    fixes = [{"unit_id": a, **HERE, "at": 1e12}, {"unit_id": a, **HERE, "at": now - 3 * 86400},
             {"unit_id": b, **HERE, "at": now}]  # fmt: skip
    async with center.client(Role.INTEGRATION) as gateway:
        reply = await gateway.post("/api/v1/locations", json={"fixes": fixes})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"accepted": 1, "verdicts": {"future": 1, "too_old": 1, "ok": 1}}


async def test_a_tracker_app_with_a_wrong_clock_hears_the_verdict(center: Center) -> None:
    """OsmAnd/Traccar apps retry until 200: a refused time answers 200 with its verdict, not a loop."""
    unit_id = await add_unit(center, "P-9")
    async with center.client(Role.ADMIN) as admin:
        device = (await admin.post(f"/api/v1/units/{unit_id}/tracker")).json()["device_id"]
    async with center.client(None) as app:
        future = str(int((time.time() + 86400) * 1000))
        reply = await app.get("/api/v1/osmand", params={"id": device, "lat": 31.23, "lon": 121.47,
                                                         "timestamp": future})  # fmt: skip
        assert reply.status_code == 200 and reply.headers["X-Fix-Verdict"] == "future"
        reply = await app.get("/api/v1/osmand", params={"id": device, "lat": 31.23, "lon": 121.47})
        assert reply.headers["X-Fix-Verdict"] == "ok"


async def test_the_unit_socket_refuses_a_fix_from_a_wrong_clock(center: Center) -> None:
    """/ws/unit: a fix a day ahead is an error frame on 'at'; the next real fix is taken."""
    unit_id = await add_unit(center, "P-9")
    ws = await center.socket("/ws/unit", Role.UNIT, unit_id)
    try:
        assert (await receive(ws, WAIT_S))["type"] == "hello"
        await ws.send(f'{{"type": "position", "lat": 31.23, "lon": 121.47, "at": {time.time() + 86400}}}')
        answer = await receive_until(ws, lambda m: m.get("type") in ("ack", "error"), WAIT_S)
        assert answer["type"] == "error" and answer["field"] == "at", answer
        await ws.send(f'{{"type": "position", "lat": 31.23, "lon": 121.47, "at": {time.time()}}}')
        answer = await receive_until(ws, lambda m: m.get("type") in ("ack", "error"), WAIT_S)
        assert answer["type"] == "ack" and answer.get("verdict") == "ok", answer
    finally:
        await ws.close()


async def test_a_future_time_left_in_redis_neither_freezes_the_unit_nor_stops_history(center: Center) -> None:
    """A far-future fix time stored before times were bounded: the next real fix moves the unit, the
    history keeps being written, and the center stays ready."""
    unit_id = await add_unit(center, "P-9")
    async with center.client(Role.UNIT, unit_id) as unit:
        assert (await unit.put(f"/api/v1/units/{unit_id}/location", json=HERE)).json()["verdict"] == "ok"
        redis = aioredis.Redis.from_url(center.settings.redis_url or "")
        try:
            await redis.hset(unit_key(unit_id), "fix_at", "1000000000000")
        finally:
            await redis.aclose()
        since = datetime.now(UTC) - timedelta(minutes=1)
        moved = {"lat": 31.2310, "lon": 121.4710, "at": time.time()}
        reply = await unit.put(f"/api/v1/units/{unit_id}/location", json=moved)
        assert reply.json()["verdict"] == "ok", reply.text
    async with center.client(Role.DISPATCHER) as desk:
        deadline = time.monotonic() + WAIT_S
        while True:  # the flush runs every second; the fix reaches the history
            trail = await desk.get(f"/api/v1/units/{unit_id}/positions", params={"since": since.isoformat()})
            assert trail.status_code == 200, trail.text
            if any(abs(f["lat"] - moved["lat"]) < 1e-9 for f in trail.json()["fixes"]):
                break
            assert time.monotonic() < deadline, trail.json()
            await asyncio.sleep(0.2)
        assert (await desk.get("/readyz")).status_code == 200
    ws = await center.socket("/ws/ops", Role.DISPLAY)
    try:
        snapshot = await receive(ws, WAIT_S)
        assert snapshot["type"] == "snapshot"
        [mine] = [u for u in snapshot["state"]["units"] if u["id"] == unit_id]
        assert abs(mine["lat"] - moved["lat"]) < 1e-9, mine
    finally:
        await ws.close()

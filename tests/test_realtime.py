"""The operational picture over WebSockets: across API processes, resumable without gaps, safe with slow
screens, filtered per role, positions coalesced, and the unit socket's own rules."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from core.feed import STREAM, Feed
from core.roles import Role
from tests.conftest import SECRET, Center, Stores, free_port, receive, receive_until
from tests.helpers import add_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")

SCENE = {"lat": 31.2350, "lon": 121.4750}
CALL = {"channel": "110", "category": "noise_complaint", "location": SCENE,
        "caller_phone": "13800138000", "caller_name": "Zhang San"}  # fmt: skip


async def call(url: str, token: str, body: dict[str, Any] = CALL) -> int:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        reply = await http.post("/api/v1/alerts", json=body)
        assert reply.status_code == 202, reply.text
        incident_id: int = reply.json()["incident_id"]
        return incident_id


async def ops(ws_url: str, token: str, stall: bool = False, **auth: Any) -> Any:
    """A screen's socket; ``stall``: one that will stop reading, with small buffers and no compression,
    so that the center feels it soon."""
    sock = None
    if stall:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        host, port = ws_url.removeprefix("ws://").split(":")
        sock.connect((host, int(port)))
    ws = await websockets.connect(
        ws_url + "/ws/ops", max_queue=4, sock=sock, compression=None if stall else "deflate"
    )
    await ws.send(orjson.dumps({"type": "auth", "token": token, **auth}).decode())
    return ws


@pytest.mark.timeout(120)
async def test_an_event_through_one_api_process_reaches_clients_of_both(
    center: Center, stores: Stores
) -> None:
    """Two API processes on one Redis: a call taken by either shows on the screens of both."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_SECRET_KEY": SECRET, "DISPATCH_REDIS_URL": stores.redis_url,
            "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_DATA_DIR": str(center.settings.data_dir)}  # fmt: skip
    other = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
        [sys.executable, "-m", "center.cli", "up", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    other_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get(f"{other_url}/readyz")).status_code == 200:
                        break
                assert other.poll() is None, "the second process exited"
                await asyncio.sleep(0.1)
        token = center.token(Role.DISPATCHER)
        here, there = await ops(center.ws_url, token), await ops(f"ws://127.0.0.1:{port}", token)
        for ws in (here, there):
            assert (await receive(ws))["type"] == "snapshot"
        for url in (center.url, other_url):
            incident_id = await call(url, center.token(Role.CALL_TAKER), CALL | {"location": {
                "lat": SCENE["lat"] + (0.05 if url == other_url else 0), "lon": SCENE["lon"]}})  # fmt: skip
            for ws in (here, there):
                created = await receive_until(
                    ws, lambda m, i=incident_id: m.get("kind") == "incident.created" and m["incident_id"] == i
                )
                assert created["data"]["category"] == "noise_complaint"
        await here.close()
        await there.close()
    finally:
        other.terminate()
        other.wait(30)


async def test_reconnect_with_a_sequence_number_resumes_without_gaps(center: Center) -> None:
    """A screen that reconnects with its last seq gets exactly what it missed, in order, then live ones."""
    token = center.token(Role.DISPLAY)
    ws = await ops(center.ws_url, token)
    snap = await receive(ws)
    await call(center.url, center.token(Role.CALL_TAKER))
    first = await receive_until(ws, lambda m: m.get("type") == "event")
    await ws.close()

    missed = [await call(center.url, center.token(Role.CALL_TAKER), CALL | {"location": {
        "lat": SCENE["lat"] + 0.01 * (i + 1), "lon": SCENE["lon"]}}) for i in range(3)]  # fmt: skip
    back = await ops(center.ws_url, token, resume={"epoch": snap["epoch"], "seq": first["seq"]})
    assert (await receive(back))["type"] == "resumed"
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while sorted(m["incident_id"] for m in got if m.get("kind") == "incident.created") != missed:
            got.append(await receive_until(back, lambda m: m.get("type") == "event"))
    # every event after the last one seen, once each and in order (the dispatcher's own events included)
    assert [m["seq"] for m in got] == list(range(first["seq"] + 1, first["seq"] + 1 + len(got)))
    live = await call(
        center.url, center.token(Role.CALL_TAKER), CALL | {"location": {"lat": 31.3, "lon": 121.5}}
    )
    nxt = await receive_until(back, lambda m: m.get("kind") == "incident.created")
    assert nxt["seq"] > got[-1]["seq"] and nxt["incident_id"] == live
    await back.close()

    # a resume the feed no longer holds (trimmed, or another epoch) gets a fresh snapshot
    redis = aioredis.Redis.from_url(center.settings.redis_url or "")
    await redis.xtrim(STREAM, maxlen=1, approximate=False)
    await redis.aclose()
    for resume in ({"epoch": snap["epoch"], "seq": first["seq"]}, {"epoch": "gone", "seq": 1}):
        again = await ops(center.ws_url, token, resume=resume)
        assert (await receive(again))["type"] == "snapshot"
        await again.close()


async def test_a_stalled_screen_never_delays_the_others(center: Center) -> None:
    """One screen stops reading: the others get every event in order, at once; the stalled one resyncs."""
    token = center.token(Role.DISPLAY)
    stalled = await ops(center.ws_url, token, stall=True)
    fast = await ops(center.ws_url, token)
    for ws in (stalled, fast):
        assert (await receive(ws))["type"] == "snapshot"
    feed = Feed(aioredis.Redis.from_url(center.settings.redis_url or ""))
    # 2,000 events a second for 10 s, 2 KB each: far more than the stalled socket's buffers hold
    filler, total, batch = "x" * 2000, 20_000, 200

    async def publish() -> float:
        for start in range(0, total, batch):
            await feed.publish(
                [{"kind": "test.filler", "n": n, "pad": filler} for n in range(start, start + batch)]
            )
            await asyncio.sleep(0.1)
        return time.monotonic()

    publishing = asyncio.create_task(publish())
    seen: list[int] = []
    async with asyncio.timeout(60):
        while len(seen) < total:
            m = await receive(fast)
            assert m["type"] != "snapshot", f"the fast screen was resynced after {len(seen)} events"
            if m.get("kind") == "test.filler":
                seen.append(m["n"])
    lag = time.monotonic() - await publishing
    assert seen == list(range(total)), "the fast screen missed or reordered events"
    assert lag < 2, f"the fast screen got the last event {lag:.1f} s after it was published"
    # the stalled screen, reading again, is told to start over instead of getting a backlog
    resync = await receive_until(stalled, lambda m: m.get("type") == "snapshot", within_s=20)
    assert resync["seq"] >= total
    await feed._redis.aclose()
    for ws in (stalled, fast):
        await ws.close()


async def test_wall_screens_get_no_caller_data_dispatchers_do(center: Center) -> None:
    """The same new call: a dispatcher's screen shows the caller, a wall screen does not."""
    wall = await ops(center.ws_url, center.token(Role.DISPLAY))
    desk = await ops(center.ws_url, center.token(Role.DISPATCHER))
    for ws in (wall, desk):
        await receive(ws)
    await call(center.url, center.token(Role.CALL_TAKER))
    on_wall = await receive_until(wall, lambda m: m.get("kind") == "incident.created")
    on_desk = await receive_until(desk, lambda m: m.get("kind") == "incident.created")
    assert on_desk["private"] == {"caller_phone": "13800138000", "caller_name": "Zhang San"}
    assert "private" not in on_wall and "13800138000" not in orjson.dumps(on_wall).decode()
    for ws in (wall, desk):
        await ws.close()


async def test_positions_are_coalesced_per_tick_and_status_changes_are_not(center: Center) -> None:
    """Ten fixes in a tick reach a screen as one update at the last place; each status change is its own."""
    unit_id = await add_unit(center, "P-9")
    wall = await ops(center.ws_url, center.token(Role.DISPLAY))
    await receive(wall)
    now = time.time()
    async with center.client(Role.UNIT, unit_id) as unit:
        for i in range(10):
            at = now - 10 + i  # a time as epoch seconds (trackers) or as ISO 8601 (what answers use)
            when = at if i % 2 == 0 else datetime.fromtimestamp(at, UTC).astimezone(SHANGHAI).isoformat()
            fix = {"lat": SCENE["lat"] + i * 0.0001, "lon": SCENE["lon"], "at": when}
            assert (await unit.put(f"/api/v1/units/{unit_id}/location", json=fix)).json()["verdict"] == "ok"
        for status in ("available", "off_duty"):
            assert (
                await unit.post(f"/api/v1/units/{unit_id}/status", json={"status": status})
            ).status_code == 200
    # read until the last place and both status changes have come (however slow the machine is)
    last_lat = SCENE["lat"] + 0.0009
    frames: list[dict[str, Any]] = []

    def mine(m: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            p for p in m.get("positions", ()) if m.get("kind") == "units.moved" and p["unit_id"] == unit_id
        ]

    async with asyncio.timeout(30):
        while not (
            any(p["lat"] == pytest.approx(last_lat) for m in frames for p in mine(m))
            and sum(m.get("kind") == "unit.status_changed" for m in frames) >= 2
        ):
            frames.append(await receive(wall, 30))
    moves = [p for m in frames for p in mine(m)]
    # coalesced: each screen update holds the unit once, far fewer updates than fixes, the last at the
    # last place (ten fixes sent within a tick on any sane machine give one)
    assert all(len(mine(m)) <= 1 for m in frames)
    assert len(moves) < 10 and moves[-1]["lat"] == pytest.approx(last_lat)
    # times on the feed are ISO 8601 like everywhere else: the event's and the fix's own
    assert datetime.fromisoformat(moves[-1]["at"]).timestamp() == pytest.approx(now - 1, abs=1e-3)
    assert all(datetime.fromisoformat(m["at"]).tzinfo for m in frames if m.get("kind") == "units.moved")
    changes = [m["data"]["to"] for m in frames if m.get("kind") == "unit.status_changed"]
    assert changes == ["available", "off_duty"]
    await wall.close()


async def test_unit_socket_keeps_bad_messages_and_floods_on_the_socket(center: Center) -> None:
    """Malformed messages get an error frame and the socket stays open; a flood is rate-limited."""
    unit_id = await add_unit(center, "P-7")
    ws = await center.socket("/ws/unit", Role.UNIT, unit_id)
    assert (await receive(ws))["type"] == "hello"
    for bad in ("not json", "[1, 2]", '{"type": "position", "lat": 99, "lon": 1}',
                '{"type": "accept", "assignment_id": "x"}', '{"type": "teleport"}',
                '{"type": "status", "status": "on_scene"}'):  # fmt: skip
        await ws.send(bad)
        answer = await receive(ws)
        assert answer["type"] == "error" and answer["reason"], bad
    for i in range(60):
        await ws.send(orjson.dumps({"type": "position", "lat": 31.2, "lon": 121.4, "at": time.time() - 60 + i,
                                    "ref": i}).decode())  # fmt: skip
    answers = [await receive(ws) for _ in range(60)]
    assert any("rate limit" in a.get("reason", "") for a in answers)
    await ws.send('{"type": "status", "status": "available", "ref": "still-open"}')
    assert (await receive_until(ws, lambda m: m.get("ref") == "still-open", within_s=5))["type"] in (
        "ack",
        "error",
    )
    await ws.close()


async def test_a_foreign_origin_is_refused(center: Center) -> None:
    """A browser page from another origin cannot open the sockets, whatever its token."""
    for path in ("/ws/ops", "/ws/unit"):
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            ws = await websockets.connect(center.ws_url + path, origin="https://evil.example")  # type: ignore[arg-type]
            await ws.send(orjson.dumps({"type": "auth", "token": center.token(Role.ADMIN)}).decode())
            await receive(ws)


async def test_an_entry_the_center_did_not_write_does_not_stop_the_feed(center: Center) -> None:
    """Junk appended to the live feed in Redis: screens get the next real event all the same."""
    ws = await center.socket("/ws/ops", Role.DISPATCHER)
    try:
        assert (await receive(ws))["type"] == "snapshot"
        redis = aioredis.Redis.from_url(center.settings.redis_url or "")
        try:
            seq = int(await redis.incr("{feed}:seq"))
            await redis.xadd(STREAM, {"x": b"\xff not json"}, id=f"0-{seq}")
        finally:
            await redis.aclose()
        async with center.client(Role.ADMIN) as admin:
            reply = await admin.post("/api/v1/units", json={"callsign": "J-1", "kind": "patrol_car"})
            assert reply.status_code == 201, reply.text
        registered = await receive_until(
            ws, lambda m: m.get("type") == "event" and m.get("unit_id") == reply.json()["id"], 15
        )
        assert registered["seq"] > seq
    finally:
        await ws.close()

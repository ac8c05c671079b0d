"""Whatever a broken phone, a stale screen or a fuzzer sends, a socket answers with a documented error
frame or closes with a code and a reason (docs/api.md, "Sockets"): never an exception in the server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed

from center.embedded import EmbeddedRedis
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, receive, receive_until, serving, wipe
from tests.helpers import add_unit, ops_socket, unit_socket
from units.live import unit_key

WAIT_S = 30.0  # generous: a loaded machine is slow, never wrong
FIX = {"lat": 31.2, "lon": 121.4}


async def closed(ws: Any, within_s: float = WAIT_S) -> tuple[int, str]:
    """Read until the center closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed) as ended:
        async with asyncio.timeout(within_s):
            while True:
                await ws.recv()
    frame = ended.value.rcvd
    assert frame is not None, "the connection dropped without a close frame"
    return frame.code, frame.reason


async def ask(ws: Any, raw: str | bytes) -> dict[str, Any]:
    """Send one message and read its answer; sent again while the rate limit says slow down, so the
    test means the same on a fast machine and a slow one."""
    while True:
        await ws.send(raw)
        answer = await receive_until(ws, lambda m: m.get("type") in ("ack", "error"), WAIT_S)
        if answer.get("code") != "rate_limited":
            return answer
        await asyncio.sleep(0.5)


def dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


@pytest.mark.parametrize("path", ["/ws/ops", "/ws/unit"])
async def test_a_binary_frame_closes_1003_before_and_after_auth(center: Center, path: str) -> None:
    unit_id = await add_unit(center, "P-1")
    auth = dumps({"type": "auth", "token": center.token(Role.UNIT if "unit" in path else Role.DISPATCHER,
                                                        unit_id)})  # fmt: skip
    async with websockets.connect(center.ws_url + path) as ws:
        await ws.send(auth.encode())  # the right auth message, as a binary frame
        code, reason = await closed(ws)
        assert code == 1003 and "binary" in reason
    ws = await (unit_socket(center, unit_id) if "unit" in path else ops_socket(center))
    await ws.send(b'{"type": "status", "status": "available"}')
    code, reason = await closed(ws)
    assert code == 1003 and "binary" in reason
    # the center goes on: the same socket opens again
    ws = await (unit_socket(center, unit_id) if "unit" in path else ops_socket(center))
    await ws.close()


@pytest.mark.parametrize("path", ["/ws/ops", "/ws/unit"])
async def test_a_text_frame_that_is_not_utf8_closes_1007(center: Center, path: str) -> None:
    unit_id = await add_unit(center, "P-1")
    async with websockets.connect(center.ws_url + path) as ws:
        await ws.send(b'{"type": "auth", "token": "\xff\xfe"}', text=True)
        code, _ = await closed(ws)
        assert code == 1007
    ws = await (unit_socket(center, unit_id) if "unit" in path else ops_socket(center))
    await ws.send(b'{"type": "position", "lat": 31.2, "lon": 121.4, "ref": "\xc3\x28"}', text=True)
    code, _ = await closed(ws)
    assert code == 1007


@pytest.mark.parametrize("path", ["/ws/ops", "/ws/unit"])
async def test_a_message_over_the_size_limit_closes_1009(center: Center, path: str) -> None:
    unit_id = await add_unit(center, "P-1")
    huge = dumps({"type": "auth", "token": "x" * 100_000})
    async with websockets.connect(center.ws_url + path) as ws:
        await ws.send(huge)
        code, reason = await closed(ws)
        assert code == 1009 and "at most" in reason
    ws = await (unit_socket(center, unit_id) if "unit" in path else ops_socket(center))
    await ws.send(dumps({"type": "status", "status": "available", "ref": "x" * 100_000}))
    code, reason = await closed(ws)
    assert code == 1009 and "at most" in reason


async def test_first_messages_that_are_no_auth_close_1008_with_a_reason(center: Center) -> None:
    for first in ("null", "[]", "1e400", '"auth"', '{"type": {"a": 1}}', '{"type": "auth", "token": 7}',
                  '{"type": "auth", "token": "a\\u0000b"}', "[" * 5000 + "]" * 5000):  # fmt: skip
        for path in ("/ws/ops", "/ws/unit"):
            async with websockets.connect(center.ws_url + path) as ws:
                await ws.send(first)
                code, reason = await closed(ws)
                assert code == 1008 and reason.startswith("authentication failed"), (path, first)


async def test_every_wrong_shape_on_the_unit_socket_gets_an_error_frame(center: Center) -> None:
    """Each bad message is answered (with its ref when it has a usable one), the socket stays open,
    and nothing a refusal says invites sending the same again."""
    unit_id = await add_unit(center, "P-1")
    ws = await unit_socket(center, unit_id)
    now = time.time()
    big = 2**63
    cases: list[tuple[str, str, str | None]] = [  # message, code, field
        ("not json", "bad_message", None),
        ("[1, 2]", "bad_message", None),
        ("42", "bad_message", None),
        ("null", "bad_message", None),
        ('"' + "a" * 10_000 + '"', "bad_message", None),
        ("[" * 2000 + "]" * 2000, "bad_message", None),  # deeper than the JSON parser goes
        ("[" * 500 + "]" * 500, "bad_message", None),
        ('{"type": "position", "lat": NaN, "lon": 1}', "bad_message", None),
        ('{"type": "position", "lat": 1e400, "lon": 1}', "bad_message", None),
        ('{"type": {"a": 1}, "ref": 1}', "bad_message", "type"),
        ('{"type": ["accept"], "ref": 2}', "bad_message", "type"),
        ('{"type": "accept\\u0000", "ref": 3}', "bad_message", "type"),
        ('{"ref": 4}', "bad_message", "type"),
        ('{"type": "teleport", "ref": "r-5"}', "bad_message", "type"),
        ('{"type": "status", "status": "available", "ref": {"a": 1}}', "invalid", "ref"),
        ('{"type": "status", "status": "available", "ref": "' + "r" * 65 + '"}', "invalid", "ref"),
        ('{"type": "status", "status": "available", "ref": "a\\u0000b"}', "invalid", "ref"),
        ('{"type": "status", "status": "available", "ref": 1.5}', "invalid", "ref"),
        ('{"type": "status", "status": "available", "ref": 18446744073709551616}', "invalid", "ref"),
        ('{"type": "position", "lat": 85.06, "lon": 121.4, "ref": 6}', "invalid", "lat"),
        ('{"type": "position", "lat": -90, "lon": 121.4, "ref": 7}', "invalid", "lat"),
        ('{"type": "position", "lat": 31.2, "lon": 180.5, "ref": 8}', "invalid", "lon"),
        ('{"type": "position", "lat": "31.2", "lon": 121.4, "ref": 9}', "invalid", "lat"),
        ('{"type": "position", "lat": true, "lon": 121.4, "ref": 10}', "invalid", "lat"),
        ('{"type": "position", "lat": [[[[31.2]]]], "lon": 121.4, "ref": 11}', "invalid", "lat"),
        ('{"type": "position", "lat": 31.2, "ref": 12}', "invalid", "lon"),
        ('{"type": "position", "lat": 31.2, "lon": 121.4, "at": "now", "ref": 13}', "invalid", "at"),
        ('{"type": "position", "lat": 31.2, "lon": 121.4, "at": -1, "ref": 14}', "invalid", "at"),
        ('{"type": "position", "lat": 31.2, "lon": 121.4, "at": 1e20, "ref": 15}', "invalid", "at"),
        ('{"type": "position", "lat": 31.2, "lon": 121.4, "at": "2026-12-04T09:30:00", "ref": 22}', "invalid",
         "at"),  # no offset: no time at all
        ('{"type": "position", "lat": 31.2, "lon": 121.4, "at": "2026-13-04T09:30Z", "ref": 23}', "invalid",
         "at"),
        # the domain refuses a fix time far from the center's clock, naming the field
        (dumps({"type": "position", **FIX, "at": now + 86_400, "ref": 16}), "invalid", "at"),
        (dumps({"type": "position", **FIX, "at": now - 30 * 86_400, "ref": 17}), "invalid", "at"),
        ('{"type": "status", "status": "x' + "y" * 5000 + '", "ref": 18}', "invalid", "status"),
        ('{"type": "status", "status": null, "ref": 19}', "invalid", "status"),
        ('{"type": "status", "status": {"a": 1}, "ref": 20}', "invalid", "status"),
        ('{"type": "status", "status": "on_scene", "ref": 21}', "invalid", "status"),
    ]  # fmt: skip
    for step in ("accept", "decline", "arrive", "clear"):
        for bad_id in (str(big), str(2**64), "0", "-1", "true", "1.0", '"9"', "null", "[1]"):
            cases.append((f'{{"type": "{step}", "assignment_id": {bad_id}, "ref": "{step}"}}', "invalid",
                          "assignment_id"))  # fmt: skip
    for raw, code, field in cases:
        answer = await ask(ws, raw)
        assert answer["type"] == "error" and answer["code"] == code, (raw[:80], answer)
        assert answer["field"] == field and answer["retry"] is False, (raw[:80], answer)
        assert 0 < len(answer["reason"]) <= 200, (raw[:80], answer)
        try:
            sent = orjson.loads(raw)
        except orjson.JSONDecodeError:
            sent = None
        expected_ref = sent.get("ref") if isinstance(sent, dict) and field != "ref" else None
        assert answer["ref"] == expected_ref, (raw[:80], answer)
    # the socket is still open and still does what it is for
    answer = await ask(ws, dumps({"type": "status", "status": "available", "ref": "still-open"}))
    assert answer == {"type": "ack", "ref": "still-open", "status": "available"}
    answer = await ask(
        ws, dumps({"type": "position", "lat": 31.2, "lon": 121.4, "at": time.time(), "ref": 99})
    )
    assert answer["type"] == "ack" and answer["verdict"] == "ok", answer
    iso = datetime.now(UTC).isoformat()  # the format every answer uses is taken as well
    answer = await ask(ws, dumps({"type": "position", "lat": 31.2, "lon": 121.4, "at": iso, "ref": 100}))
    assert answer["type"] == "ack" and answer["verdict"] == "ok", answer
    await ws.close()


async def test_refused_steps_and_statuses_are_permanent_errors_naming_the_field(center: Center) -> None:
    """The domain's refusals come back as error frames with a code, the field and the domain's data;
    none says to retry."""
    unit_id = await add_unit(center, "P-1")
    ws = await unit_socket(center, unit_id)
    for step in ("accept", "decline", "arrive", "clear"):
        answer = await ask(ws, dumps({"type": step, "assignment_id": 2**63 - 1, "ref": step}))
        assert answer["type"] == "error" and answer["code"] == "not_found", answer
        assert answer["field"] == "assignment_id" and answer["retry"] is False and answer["ref"] == step
    # off duty -> transporting is not a transition: a conflict with the current state and the way out
    answer = await ask(ws, dumps({"type": "status", "status": "transporting", "ref": 1}))
    assert answer["type"] == "error" and answer["code"] == "conflict", answer
    assert answer["field"] == "status" and answer["retry"] is False
    assert answer["current"] == "off_duty" and "available" in answer["allowed"]
    await ws.close()


async def test_a_token_for_a_unit_that_does_not_exist_closes_1008(center: Center) -> None:
    for unit_id in (424242, 2**63 - 1):
        ws = await center.socket("/ws/unit", Role.UNIT, unit_id)
        code, reason = await closed(ws)
        assert code == 1008 and "does not exist" in reason


async def test_a_retired_unit_is_refused_and_retiring_closes_its_socket(center: Center) -> None:
    unit_id = await add_unit(center, "P-1")
    ws = await unit_socket(center, unit_id)
    async with center.client(Role.ADMIN) as admin:
        assert (await admin.post(f"/api/v1/units/{unit_id}/retire")).status_code == 200
    code, reason = await closed(ws)  # the socket it had open: the retirement event, then the close
    assert code == 1008 and "retired" in reason
    ws = await center.socket("/ws/unit", Role.UNIT, unit_id)  # a new one: refused at once
    code, reason = await closed(ws)
    assert code == 1008 and "retired" in reason


async def test_resume_positions_that_this_feed_never_gave_get_a_fresh_snapshot(center: Center) -> None:
    first = await ops_socket(center)
    await first.close()
    ws = await center.socket("/ws/ops", Role.DISPATCHER)
    epoch = (await receive(ws, WAIT_S))["epoch"]
    await ws.close()
    token = center.token(Role.DISPATCHER)
    for seq in ("-1", str(2**63), str(2**64), str(10**6), "true", '"7"', "null", "1.5", "[1]"):
        async with websockets.connect(center.ws_url + "/ws/ops") as ws:
            await ws.send(
                f'{{"type": "auth", "token": "{token}", "resume": {{"epoch": "{epoch}", "seq": {seq}}}}}'
            )
            assert (await receive(ws, WAIT_S))["type"] == "snapshot", seq


async def test_a_bad_fix_time_already_in_redis_does_not_keep_screens_from_a_snapshot(
    center: Center, stores: Stores
) -> None:
    """A value written before fix times were bounded (it survives restarts in Redis): the snapshot
    shows that unit stale, without a fix time, and every other unit as usual."""
    bad, good = await add_unit(center, "P-1"), await add_unit(center, "P-2")
    async with center.client(Role.UNIT, good) as phone:
        reply = await phone.put(f"/api/v1/units/{good}/location", json={"lat": 31.2, "lon": 121.4})
        assert reply.status_code == 200, reply.text
    client = aioredis.Redis.from_url(stores.redis_url)
    try:
        for fix_at in ("1e12", "nan", "inf", "1e300"):
            await client.hset(unit_key(bad), mapping={"lat": "31.2", "lon": "121.4", "fix_at": fix_at})
            ws = await center.socket("/ws/ops", Role.DISPLAY)
            snapshot = await receive(ws, WAIT_S)
            assert snapshot["type"] == "snapshot", fix_at
            units = {u["id"]: u for u in snapshot["state"]["units"]}
            assert units[bad]["stale"] is True and units[bad]["fix_at"] is None, (fix_at, units[bad])
            assert units[good]["stale"] is False and units[good]["fix_at"], units[good]
            await ws.close()
    finally:
        await client.aclose()


@pytest.mark.timeout(240)
async def test_a_new_ops_socket_while_redis_is_down_closes_1011_and_works_once_it_is_back(
    stores: Stores, tmp_path: Path
) -> None:
    """A center with a Redis of its own, stopped for real after the start: a new screen's socket is
    closed with 1011 (reconnect later), a unit's message is answered with a retryable error; once Redis
    is back on the same port, both work again."""
    await wipe(stores)
    redis_server = EmbeddedRedis(tmp_path / "own-redis")
    url = redis_server.start()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        async with serving(center_settings(stores, redis_url=url, data_dir=tmp_path / "center")) as center:
            unit_id = await add_unit(center, "P-1")
            unit_ws = await unit_socket(center, unit_id)
            await (await ops_socket(center)).close()
            await asyncio.to_thread(redis_server.stop)

            ws = await center.socket("/ws/ops", Role.DISPATCHER)
            code, reason = await closed(ws, within_s=120)
            assert code == 1011 and "reconnect" in reason
            answer = await ask(unit_ws, dumps({"type": "position", "lat": 31.2, "lon": 121.4, "ref": 1}))
            assert answer["type"] == "error" and answer["code"] == "unavailable" and answer["retry"] is True

            redis_server = EmbeddedRedis(tmp_path / "own-redis", port=port)
            await asyncio.to_thread(redis_server.start)
            async with asyncio.timeout(120):
                while True:  # the center's connections come back at their own pace
                    ws = await center.socket("/ws/ops", Role.DISPATCHER)
                    try:
                        if (await receive(ws, WAIT_S))["type"] == "snapshot":
                            await ws.close()
                            break
                    except ConnectionClosed:
                        await asyncio.sleep(0.5)
            answer = await ask(unit_ws, dumps({"type": "position", "lat": 31.2, "lon": 121.4, "ref": 2}))
            assert answer["type"] == "ack", answer
            await unit_ws.close()
    finally:
        await asyncio.to_thread(redis_server.stop)

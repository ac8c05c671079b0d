"""Units: the one status machine, position fixes, history and the live index, against real servers."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from center.connections import open_pool, open_redis
from core.geo import haversine_m
from core.roles import Role
from core.transitions import IllegalTransition
from tests.conftest import Center
from units.kinds import load_kinds
from units.live import LiveIndex, index_key, unit_key
from units.roster import Roster
from units.status import SELF_REPORTABLE, TRANSITIONS, UnitStatus, dispatchable

BASE = (31.2300, 121.4700)  # central Shanghai
M_PER_DEG_LAT = 111_195.0
GEO_PRECISION_M = 2.0  # Redis GEO stores 52-bit geohashes: well under a metre of error


@dataclass(frozen=True)
class Direct:
    """The center's own PostgreSQL and Redis, opened directly, and a roster over them."""

    pool: asyncpg.Pool
    redis: aioredis.Redis
    roster: Roster


@dataclass(frozen=True)
class UnitState:
    """What a status request may change: PostgreSQL row, event count, Redis hash and GEO membership."""

    status: str
    changed_at: datetime
    events: int
    live_status: str | None
    indexed: bool


@pytest.fixture
async def direct(center: Center) -> AsyncIterator[Direct]:
    """Direct handles on the stores of a center that has already migrated its schema."""
    assert center.settings.database_url and center.settings.redis_url
    pool = await open_pool(center.settings.database_url)
    redis = open_redis(center.settings.redis_url)
    live = LiveIndex(redis, [s.value for s in UnitStatus if dispatchable(s)])
    try:
        yield Direct(pool, redis, Roster(pool, live, load_kinds()))
    finally:
        await redis.aclose()
        await pool.close()


def past(seconds: int) -> float:
    """A fix time that many seconds ago, in whole seconds (PostgreSQL keeps microseconds)."""
    return float(int(time.time()) - seconds)


def north(metres: float) -> float:
    """Degrees of latitude for a distance northwards."""
    return metres / M_PER_DEG_LAT


def spot(i: int) -> tuple[float, float]:
    """A distinct place for the i-th unit, a few hundred metres from its neighbours."""
    return BASE[0] + 0.003 * (i % 10), BASE[1] + 0.003 * (i // 10)


def fix(unit_id: int, lat: float, lon: float, at: float) -> dict[str, Any]:
    return {"unit_id": unit_id, "lat": lat, "lon": lon, "at": at}


async def register(center: Center, count: int, prefix: str, kind: str = "patrol_car") -> list[int]:
    """Register available units through the API (at once); their ids, ascending."""
    body = {"kind": kind, "status": "available"}
    async with center.client(Role.ADMIN) as admin:
        posts = [
            admin.post("/api/v1/units", json={**body, "callsign": f"{prefix}-{i}"}) for i in range(count)
        ]
        replies = await asyncio.gather(*posts)
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies]
    return sorted(int(r.json()["id"]) for r in replies)


async def gateway_batch(center: Center, fixes: list[dict[str, Any]]) -> dict[str, int]:
    """Post fixes as an AVL gateway does; the counts per verdict."""
    async with center.client(Role.INTEGRATION) as gateway:
        reply = await gateway.post("/api/v1/locations", json={"fixes": fixes})
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == reply.json()["verdicts"].get("ok", 0)
    verdicts: dict[str, int] = reply.json()["verdicts"]
    return verdicts


async def indexed(redis: aioredis.Redis, kind: str = "patrol_car") -> dict[int, tuple[float, float]]:
    """The units in a kind's GEO set of dispatchable units, with their (lat, lon)."""
    key = index_key(kind)
    members: list[Any] = await redis.zrange(key, 0, -1)
    if not members:
        return {}
    coords: list[Any] = await redis.geopos(key, *members)
    return {
        int(m.rsplit(b":", 1)[1]): (float(c[1]), float(c[0])) for m, c in zip(members, coords, strict=True)
    }


async def live_hash(redis: aioredis.Redis, unit_id: int) -> dict[str, str]:
    raw: dict[Any, Any] = await redis.hgetall(unit_key(unit_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def state(d: Direct, unit_id: int) -> UnitState:
    events = "(select count(*) from events where unit_id = $1) as events"
    row = await d.pool.fetchrow(
        f"select status, status_changed_at, {events} from units where id = $1", unit_id
    )
    assert row is not None
    live = await live_hash(d.redis, unit_id)
    return UnitState(
        row["status"], row["status_changed_at"], row["events"], live.get("status"),
        unit_id in await indexed(d.redis),
    )  # fmt: skip


async def post_status(client: httpx.AsyncClient, unit_id: int, status: str) -> httpx.Response:
    return await client.post(f"/api/v1/units/{unit_id}/status", json={"status": status})


async def force_status(d: Direct, unit_id: int, status: UnitStatus) -> None:
    """Put a unit in a status directly in PostgreSQL, then bring Redis in line through the roster."""
    await d.pool.execute("update units set status = $2 where id = $1", unit_id, status.value)
    await d.roster.sync_live([await d.roster.get(unit_id)])


async def ask_status(center: Center, d: Direct, unit_id: int, wanted: UnitStatus) -> dict[str, Any] | None:
    """Ask for a status as users do: the unit's own HTTP call when it may set it itself, the roster (the
    assignment flow's path) otherwise. None when granted, else the refusal's current and allowed."""
    if wanted in SELF_REPORTABLE:
        async with center.client(Role.UNIT, unit_id) as unit:
            reply = await post_status(unit, unit_id, wanted)
        if reply.status_code == 200:
            assert reply.json()["status"] == wanted.value
            return None
        assert reply.status_code == 409, reply.text
        return {"current": reply.json()["current"], "allowed": reply.json()["allowed"]}
    try:
        moved, _ = await d.roster.change_status(unit_id, wanted, "test:roster")
    except IllegalTransition as exc:
        return {"current": exc.data["current"], "allowed": exc.data["allowed"]}
    assert moved.status is wanted
    return None


async def test_transition_table_every_pair(center: Center, direct: Direct) -> None:
    """Every (current, wanted) pair: legal ones move unit and index; illegal ones get 409, change nothing."""
    pairs = [(current, wanted) for current in UnitStatus for wanted in UnitStatus]
    ids = await register(center, len(pairs), "T")
    await gateway_batch(center, [fix(u, *spot(i), time.time()) for i, u in enumerate(ids)])
    for unit_id, (current, wanted) in zip(ids, pairs, strict=True):
        await force_status(direct, unit_id, current)
        before = await state(direct, unit_id)
        assert (before.status, before.live_status, before.indexed) == (
            current, current, dispatchable(current)
        )  # fmt: skip
        refusal = await ask_status(center, direct, unit_id, wanted)
        after = await state(direct, unit_id)
        pair = f"{current} -> {wanted}"
        if wanted in TRANSITIONS[current]:
            assert refusal is None, pair
            assert (after.status, after.live_status) == (wanted, wanted), pair
            assert after.indexed == dispatchable(wanted), pair
            assert after.events == before.events + 1, pair
        else:
            assert refusal == {"current": current, "allowed": sorted(TRANSITIONS[current])}, pair
            assert after == before, pair


async def test_status_changes_are_events_with_time_and_actor(center: Center, direct: Direct) -> None:
    """Each status change leaves a unit.status_changed event saying when, who, from and to; refusals none."""
    [unit_id] = await register(center, 1, "E")
    start = await direct.pool.fetchval("select clock_timestamp()")
    async with center.client(Role.UNIT, unit_id) as unit, center.client(Role.DISPATCHER) as dispatcher:
        assert (await post_status(unit, unit_id, "off_duty")).status_code == 200
        assert (await post_status(dispatcher, unit_id, "out_of_service")).status_code == 200
        await direct.roster.change_status(unit_id, UnitStatus.AVAILABLE, "system:test")
        assert (await post_status(unit, unit_id, "transporting")).status_code == 409
    end = await direct.pool.fetchval("select clock_timestamp()")
    rows = await direct.pool.fetch(
        "select at, actor, data from events where unit_id = $1 and kind = 'unit.status_changed' order by id",
        unit_id,
    )
    assert [(r["actor"], r["data"]["from"], r["data"]["to"]) for r in rows] == [
        ("unit:test-unit", "available", "off_duty"),
        ("dispatcher:test-dispatcher", "off_duty", "out_of_service"),
        ("system:test", "out_of_service", "available"),
    ]
    assert start <= rows[0]["at"] <= rows[1]["at"] <= rows[2]["at"] <= end


async def test_old_repeated_and_implausible_fixes(center: Center, direct: Direct) -> None:
    """Old and repeated fixes are ignored; a jump too fast for the kind is kept out of dispatch until sane."""
    [car] = await register(center, 1, "CAR")
    [foot] = await register(center, 1, "FOOT", kind="foot_patrol")
    t0, (lat, lon) = past(600), BASE

    async def where(unit_id: int, kind: str) -> tuple[tuple[float, float], tuple[float, float] | None]:
        live = await live_hash(direct.redis, unit_id)
        return (float(live["lat"]), float(live["lon"])), (await indexed(direct.redis, kind)).get(unit_id)

    async with center.client(Role.UNIT, car) as unit:

        async def put(lat: float, at: float) -> str:
            reply = await unit.put(f"/api/v1/units/{car}/location", json={"lat": lat, "lon": lon, "at": at})
            assert reply.status_code == 200, reply.text
            verdict: str = reply.json()["verdict"]
            return verdict

        assert await put(lat, t0) == "ok"
        assert await put(lat + north(500), t0) == "old"  # the same fix time again: a resend
        assert await put(lat + north(500), t0 - 30) == "old"  # a stored fix arriving late
        trusted, geo = await where(car, "patrol_car")
        assert trusted == (lat, lon) and geo and haversine_m(*geo, lat, lon) < GEO_PRECISION_M
        # 2 km in 30 s is 240 km/h, faster than a patrol car's 160 km/h
        assert await put(lat + north(2000), t0 + 30) == "suspect"
        trusted, geo = await where(car, "patrol_car")
        assert trusted == (lat, lon) and geo is None
        assert (await live_hash(direct.redis, car))["suspect"] == "1"
        # 1 km in 60 s from the last trusted fix is 60 km/h: plausible
        assert await put(lat + north(1000), t0 + 60) == "ok"
        trusted, geo = await where(car, "patrol_car")
        assert trusted == (lat + north(1000), lon)
        assert geo and haversine_m(*geo, *trusted) < GEO_PRECISION_M

    flat, flon = spot(5)
    assert await gateway_batch(center, [
        fix(foot, flat, flon, t0), fix(foot, flat + north(300), flon, t0),
        fix(foot, flat, flon + 0.01, t0 - 10),
    ]) == {"ok": 1, "old": 2}  # fmt: skip
    # the same 1 km in 60 s is fine for the car again, but not for a foot patrol (20 km/h)
    assert await gateway_batch(center, [
        fix(foot, flat + north(1000), flon, t0 + 60), fix(car, lat + north(2000), lon, t0 + 120),
    ]) == {"ok": 1, "suspect": 1}  # fmt: skip
    assert await where(foot, "foot_patrol") == ((flat, flon), None)
    # 500 m in 4 minutes from the last trusted fix: a brisk walk
    assert await gateway_batch(center, [fix(foot, flat + north(500), flon, t0 + 240)]) == {"ok": 1}
    trusted, geo = await where(foot, "foot_patrol")
    assert trusted == (flat + north(500), flon) and geo and haversine_m(*geo, *trusted) < GEO_PRECISION_M


async def test_fixes_for_unknown_units_change_nothing(center: Center, direct: Direct) -> None:
    """A fix for a unit that does not exist counts as unknown in a batch, gets 404 alone, stores nothing."""
    ghost = 10**9
    assert await gateway_batch(center, [fix(ghost, *BASE, past(60))]) == {"unknown": 1}
    async with center.client(Role.INTEGRATION) as gateway:
        reply = await gateway.put(f"/api/v1/units/{ghost}/location", json={"lat": BASE[0], "lon": BASE[1]})
        assert reply.status_code == 404, reply.text
    assert await live_hash(direct.redis, ghost) == {}


async def positions_written(d: Direct, unit_ids: list[int], count: int) -> list[asyncpg.Record]:
    """The history rows of these units once ``count`` of them are there (fail after a few seconds)."""
    async with asyncio.timeout(5):
        while True:
            await asyncio.sleep(1.5)
            rows = await d.pool.fetch(
                "select * from positions where unit_id = any($1) order by unit_id, at", unit_ids
            )
            if len(rows) >= count:
                return rows


async def test_history_lands_in_postgres_in_batches(center: Center, direct: Direct) -> None:
    """Soon after, PostgreSQL holds every accepted and suspect fix (one write) and the last trusted place."""
    a, b = await register(center, 2, "H")
    t0, (alat, alon), (blat, blon) = past(600), spot(0), spot(1)
    sent = [
        fix(a, alat, alon, t0), fix(a, alat + north(100), alon, t0 + 10),
        fix(a, alat, alon, t0 + 5),  # older: ignored
        fix(a, alat + 0.5, alon, t0 + 20),  # 55 km in 10 s: suspect
        fix(a, alat + north(300), alon, t0 + 40),
        fix(b, blat, blon, t0), fix(b, blat, blon, t0),  # repeated: ignored
        fix(b, blat - 0.5, blon, t0 + 10),  # suspect
    ]  # fmt: skip
    assert await gateway_batch(center, sent) == {"ok": 4, "old": 2, "suspect": 2}
    rows = await positions_written(direct, [a, b], 6)
    assert [(r["unit_id"], r["at"].timestamp(), r["lat"], r["lon"], r["suspect"]) for r in rows] == [
        (a, t0, alat, alon, False), (a, t0 + 10, alat + north(100), alon, False),
        (a, t0 + 20, alat + 0.5, alon, True), (a, t0 + 40, alat + north(300), alon, False),
        (b, t0, blat, blon, False), (b, t0 + 10, blat - 0.5, blon, True),
    ]  # fmt: skip
    assert len({r["received_at"] for r in rows}) == 1  # one batch, one write
    units = {
        r["id"]: (r["lat"], r["lon"], r["fix_at"].timestamp())
        for r in await direct.pool.fetch("select * from units where id = any($1)", [a, b])
    }
    assert units == {a: (alat + north(300), alon, t0 + 40), b: (blat, blon, t0)}


async def test_suspect_flag_survives_a_live_index_rebuild(center: Center, direct: Direct) -> None:
    """A unit whose latest fix is an implausible jump stays out of dispatch after Redis is rebuilt."""
    [unit_id] = await register(center, 1, "R")
    t0, (lat, lon) = past(600), BASE
    assert await gateway_batch(
        center, [fix(unit_id, lat, lon, t0), fix(unit_id, lat + 0.5, lon, t0 + 10)]
    ) == {"ok": 1, "suspect": 1}
    await positions_written(direct, [unit_id], 2)
    assert unit_id not in await indexed(direct.redis)
    await direct.roster.rebuild_live()
    assert unit_id not in await indexed(direct.redis), "a suspect unit became dispatchable again"


async def test_index_stays_consistent_under_concurrent_changes(center: Center, direct: Direct) -> None:
    """After concurrent status changes and fixes, GEO sets hold exactly the dispatchable, trusted units."""
    rng = random.Random(20240604)
    ids = {kind: await register(center, 15, kind, kind) for kind in ("patrol_car", "foot_patrol")}
    units = [u for kind_ids in ids.values() for u in kind_ids]
    t0 = past(3600)
    track = {u: spot(i) for i, u in enumerate(units)}  # last trusted place of each unit
    suspect = dict.fromkeys(units, False)  # whether its latest fix was an implausible jump
    await gateway_batch(center, [fix(u, *track[u], t0) for u in units])
    granted: list[bool] = []

    async def gateway(rounds: int) -> None:
        for r in range(1, rounds + 1):
            fixes, expected = [], {"ok": 0, "suspect": 0}
            for u in units:
                lat, lon = track[u]
                suspect[u] = rng.random() < 0.15  # a GPS glitch 50 km away
                if not suspect[u]:
                    track[u] = lat, lon = lat + north(25), lon
                fixes.append(fix(u, lat + 0.5 if suspect[u] else lat, lon, t0 + 10 * r))
                expected["suspect" if suspect[u] else "ok"] += 1
            assert await gateway_batch(center, fixes) == {k: v for k, v in expected.items() if v}

    async def operator(client: httpx.AsyncClient, choices: list[int], requests: int) -> None:
        async with client:
            for _ in range(requests):
                unit_id, wanted = rng.choice(choices), rng.choice(sorted(SELF_REPORTABLE))
                reply = await post_status(client, unit_id, wanted)
                assert reply.status_code in (200, 409), reply.text
                granted.append(reply.status_code == 200)

    async def assignments(requests: int) -> None:
        """The assignment flow's path (another process's roster): offered, en route, on scene and back."""
        for _ in range(requests):
            try:
                await direct.roster.change_status(rng.choice(units), rng.choice(list(UnitStatus)), "test")
                granted.append(True)
            except IllegalTransition:
                granted.append(False)

    await asyncio.gather(
        gateway(25),
        assignments(150),
        *(operator(center.client(Role.DISPATCHER), units, 40) for _ in range(4)),
        *(operator(center.client(Role.UNIT, u), [u], 4) for u in units),
    )
    assert sum(granted) > 100, "too few changes went through to test anything"
    pg = {r["id"]: r["status"] for r in await direct.pool.fetch("select id, status from units")}
    for u in units:
        live = await live_hash(direct.redis, u)
        assert live["status"] == pg[u], f"unit {u}: Redis {live['status']}, PostgreSQL {pg[u]}"
        assert (float(live["lat"]), float(live["lon"])) == track[u]
    for kind, kind_ids in ids.items():
        geo = await indexed(direct.redis, kind)
        want = {u for u in kind_ids if dispatchable(UnitStatus(pg[u])) and not suspect[u]}
        assert set(geo) == want, kind
        assert all(haversine_m(*geo[u], *track[u]) < GEO_PRECISION_M for u in want)


async def test_who_may_move_what(center: Center, direct: Direct) -> None:
    """A unit moves only itself, a gateway any unit, a wall screen none; assignment statuses get 422."""
    a, b = await register(center, 2, "P")
    t0, (lat, lon) = past(600), BASE
    here = {"lat": lat, "lon": lon, "at": t0}
    elsewhere = {"lat": lat + north(100), "lon": lon, "at": t0 + 60}
    async with (
        center.client(Role.UNIT, a) as unit_a,
        center.client(Role.INTEGRATION) as gateway,
        center.client(Role.DISPLAY) as wall,
        center.client(Role.DISPATCHER) as dispatcher,
    ):
        assert (await gateway.put(f"/api/v1/units/{b}/location", json=here)).json()["verdict"] == "ok"
        assert await gateway_batch(center, [fix(a, **here), fix(b, **elsewhere)]) == {"ok": 2}
        assert (await unit_a.put(f"/api/v1/units/{a}/location", json=elsewhere)).json()["verdict"] == "ok"
        assert (await post_status(unit_a, a, "off_duty")).status_code == 200
        assert (await post_status(unit_a, a, "available")).status_code == 200
        refused: list[httpx.Response] = [
            await unit_a.put(f"/api/v1/units/{b}/location", json={**elsewhere, "at": t0 + 120}),
            await post_status(unit_a, b, "off_duty"),
            await unit_a.post("/api/v1/locations", json={"fixes": [fix(a, **elsewhere)]}),
        ]
        for unit_id in (a, b):
            refused += [
                await wall.put(f"/api/v1/units/{unit_id}/location", json={**elsewhere, "at": t0 + 120}),
                await wall.post("/api/v1/locations", json={"fixes": [fix(unit_id, **here)]}),
                await post_status(wall, unit_id, "off_duty"),
            ]
        assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
        for status in ("offered", "en_route", "on_scene"):
            for client in (unit_a, dispatcher):
                reply = await post_status(client, a, status)
                assert reply.status_code == 422, reply.text
    for unit_id in (a, b):  # the refusals moved nothing
        live, row = await live_hash(direct.redis, unit_id), await state(direct, unit_id)
        assert (live["status"], row.status, float(live["lat"]), float(live["fix_at"])) == (
            "available", "available", elsewhere["lat"], elsewhere["at"]
        )  # fmt: skip

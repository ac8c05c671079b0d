"""PostgreSQL or Redis down: every route answers 503 with the JSON error body and ``Retry-After``, the
keep-alive connection stays open, and the center answers normally again once the store is back.

Each test runs its own throwaway server of the store it stops (the session's servers are left alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from center.embedded import EmbeddedPostgres, EmbeddedRedis
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe

CALL = {"channel": "110", "category": "robbery_in_progress", "location": {"lat": 31.235, "lon": 121.475}}


def unavailable(reply: httpx.Response) -> None:
    assert reply.status_code == 503, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert "unavailable" in body["error"] and body["field"] is None and body["problems"] == [], body
    assert int(reply.headers["retry-after"]) > 0
    assert reply.headers.get("connection", "").lower() != "close"  # the keep-alive connection stays


async def until_ok(client: httpx.AsyncClient, path: str, within_s: float = 30.0) -> httpx.Response:
    async with asyncio.timeout(within_s):
        while True:
            reply = await client.get(path)
            if reply.status_code == 200:
                return reply
            await asyncio.sleep(0.2)


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "outage")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "outage")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_postgres_down_answers_503_json_with_retry_after(
    stores: Stores, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    settings = center_settings(stores, database_url=own_postgres.url, data_dir=tmp_path / "center")
    await wipe(Stores(stores.redis_url, own_postgres.url))
    async with serving(settings) as center, center.client(Role.DISPATCHER) as desk:
        assert (await desk.post("/api/v1/alerts", json=CALL)).status_code == 202
        await asyncio.to_thread(own_postgres.stop)
        try:
            for _ in range(2):  # on one connection: the first 503 did not close it
                unavailable(await desk.get("/api/v1/incidents"))
                unavailable(await desk.post("/api/v1/alerts", json=CALL))
                unavailable(await desk.get("/api/v1/incidents/1"))
            ready = await desk.get("/readyz")
            assert ready.status_code == 503 and ready.json()["ready"] is False
        finally:
            await asyncio.to_thread(own_postgres.start)
        listed = await until_ok(desk, "/api/v1/incidents")
        assert [i["id"] for i in listed.json()["items"]] == [1]


async def test_redis_down_answers_503_json_with_retry_after(
    stores: Stores, own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    settings = center_settings(stores, redis_url=own_redis.url, data_dir=tmp_path / "center")
    await wipe(Stores(own_redis.url, stores.database_url))
    center: Center
    async with serving(settings) as center, center.client(Role.ADMIN) as admin:
        made = await admin.post("/api/v1/units", json={"callsign": "P-1", "kind": "patrol_car"})
        assert made.status_code == 201, made.text
        await asyncio.to_thread(own_redis.stop)
        try:
            async with center.client(Role.UNIT, 1) as phone:
                for _ in range(2):
                    fix = await phone.put("/api/v1/units/1/location", json={"lat": 31.2, "lon": 121.4})
                    unavailable(fix)
        finally:
            await asyncio.to_thread(own_redis.start)
        async with center.client(Role.UNIT, 1) as phone, asyncio.timeout(30):
            while True:
                fix = await phone.put("/api/v1/units/1/location", json={"lat": 31.2, "lon": 121.4})
                if fix.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            assert fix.status_code == 200 and fix.json()["verdict"] == "ok", fix.text

"""Chaos: dispatcher processes killed again and again mid-load, and both servers killed once; every
accepted alert still ends dispatched or pending, no unit is on two active assignments, and Redis ends
in step with PostgreSQL about every unit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from center.embedded import EmbeddedServers
from center.runtime import Roles
from core.roles import Role
from tests.conftest import SECRET, Center, Stores, center_settings, serving

UNITS = 60
ALERTS = 400
ACTIVE = ["offered", "accepted", "en_route", "on_scene"]


def call(i: int) -> dict[str, Any]:
    """Calls ~200 m apart on a grid, so that none is taken for a repeat of another."""
    return {"channel": "110", "category": "noise_complaint",
            "location": {"lat": 31.20 + (i // 20) * 0.002, "lon": 121.45 + (i % 20) * 0.002}}  # fmt: skip


def start_worker(stores: Stores, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_DATA_DIR": str(data_dir), "DISPATCH_SECRET_KEY": SECRET,
            "DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_AUTO_DISPATCH_ALL": "true", "DISPATCH_DISPATCHER_TASKS": "2"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "center.cli", "worker"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def add_units(center: Center) -> list[int]:
    ids = []
    async with center.client(Role.ADMIN) as admin:
        for n in range(UNITS):
            reply = await admin.post("/api/v1/units", json={"callsign": f"C{n}", "kind": "patrol_car",
                                                             "status": "available"})  # fmt: skip
            assert reply.status_code == 201, reply.text
            ids.append(reply.json()["id"])
    async with center.client(Role.INTEGRATION) as gateway:
        fixes = [{"unit_id": u, "lat": 31.20 + (n % 10) * 0.004, "lon": 121.45 + (n // 10) * 0.006,
                  "at": time.time()} for n, u in enumerate(ids)]  # fmt: skip
        reply = await gateway.post("/api/v1/locations", json={"fixes": fixes})
        assert reply.json()["accepted"] == UNITS, reply.text
    return ids


async def post_calls(center: Center, accepted: list[int], posted: list[int]) -> None:
    """Post every call, retrying through outages; an alert counts as accepted only on a 2xx."""
    numbers = iter(range(ALERTS))

    async def client() -> None:
        async with center.client(Role.CALL_TAKER) as http:
            for i in numbers:
                for _ in range(200):
                    with contextlib.suppress(httpx.HTTPError):
                        reply = await http.post("/api/v1/alerts", json=call(i),
                                                headers={"Idempotency-Key": f"chaos-{i}"})  # fmt: skip
                        if reply.is_success:
                            accepted.append(reply.json()["alert_id"])
                            break
                        assert reply.status_code == 503, reply.text  # an outage, never another error
                    await asyncio.sleep(0.2)
                posted.append(i)
                await asyncio.sleep(0.05)

    await asyncio.gather(*(client() for _ in range(8)))


async def settled(db: asyncpg.Connection[Any], accepted: list[int], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            row = await db.fetchrow(
                """select count(*) filter (where a.handled_at is null) as unhandled,
                          count(*) filter (where i.status not in ('dispatched', 'pending')) as unserved
                   from alerts a join incidents i on i.id = a.incident_id where a.id = any($1::bigint[])""",
                accepted,
            )  # fmt: skip
            assert row is not None
            if row["unhandled"] == 0 and row["unserved"] == 0:
                return
        assert time.monotonic() < deadline, f"not settled: {dict(row) if row else 'no answer'}"
        await asyncio.sleep(0.5)


@pytest.mark.timeout(420)
async def test_every_accepted_alert_is_served_through_killed_dispatchers_and_servers(tmp_path: Path) -> None:
    """SIGKILL one of three dispatcher processes every 0.4-1 s and each server once while calls come in."""
    rng = random.Random(13)
    servers = EmbeddedServers(tmp_path / "servers")
    with servers as (redis_url, database_url):
        stores = Stores(redis_url, database_url)
        settings = center_settings(
            stores, data_dir=tmp_path, dispatcher_tasks=0, auto_dispatch_all=True,
            requeue_after_s=2.0, reconcile_every_s=1.0, live_repair_every_s=1.0,
        )  # fmt: skip
        workers: list[subprocess.Popen[bytes]] = []
        try:
            async with serving(settings, Roles(api=True, dispatch=False, scheduler=True)) as center:
                units = await add_units(center)
                workers = [start_worker(stores, tmp_path) for _ in range(3)]
                accepted: list[int] = []
                posted: list[int] = []
                load = asyncio.create_task(post_calls(center, accepted, posted))
                kills = 0
                servers_killed: list[str] = []
                while not load.done():
                    await asyncio.sleep(rng.uniform(0.4, 1.0))
                    victim = workers.pop(rng.randrange(len(workers)))
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    workers.append(start_worker(stores, tmp_path))
                    if len(posted) > ALERTS // 3 and not servers_killed:
                        os.kill(servers.redis.pid(), signal.SIGKILL)
                        servers_killed.append("valkey")
                    elif len(posted) > 2 * ALERTS // 3 and servers_killed == ["valkey"]:
                        os.kill(servers.postgres.pid(), signal.SIGKILL)
                        servers_killed.append("postgresql")
                await load
                assert kills >= 5 and servers_killed == ["valkey", "postgresql"]
                assert len(set(accepted)) == len(accepted) and len(accepted) <= ALERTS

                db = await asyncpg.connect(database_url)
                try:
                    await settled(db, accepted, within_s=180)
                    doubled = await db.fetch(
                        """select unit_id, count(*) from assignments where status = any($1::text[])
                           group by unit_id having count(*) > 1""",
                        ACTIVE,
                    )  # fmt: skip
                    assert doubled == [], f"units on two active assignments: {doubled}"
                    bare = await db.fetchval(
                        """select count(*) from incidents i where status = 'dispatched' and not exists
                               (select 1 from assignments a where a.incident_id = i.id)"""
                    )
                    assert bare == 0, "an incident marked dispatched has no assignment"
                    await in_step(db, redis_url, units, within_s=60)
                finally:
                    await db.close()
        finally:
            for proc in workers:
                proc.kill()
                proc.wait()


async def in_step(db: asyncpg.Connection[Any], redis_url: str, units: list[int], within_s: float) -> None:
    """Redis holds every unit at the status PostgreSQL has for it (the live repair's work)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + within_s
        while True:
            truth = {r["id"]: r["status"] for r in await db.fetch("select id, status from units")}
            live = [await client.hget(f"{{units}}:u:{u}", "status") for u in units]
            off = {u: (s, truth[u]) for u, s in zip(units, live, strict=True) if s != truth[u].encode()}
            if not off:
                return
            assert time.monotonic() < deadline, f"Redis out of step (redis, postgres): {off}"
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()

"""An accepted alert is never lost: not when Redis restarts empty, not when the API process is killed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from center.embedded import EmbeddedRedis
from center.runtime import Roles
from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import SECRET, Stores, center_settings, free_port, serving, wipe

CALL = {"channel": "110", "category": "noise_complaint", "location": {"lat": 31.2350, "lon": 121.4750}}


def spread(i: int) -> dict[str, Any]:
    """A call ~50 m further east for each i, so that none is linked to another."""
    return CALL | {"location": {"lat": 31.2350, "lon": 121.4750 + i * 0.0006}}


async def post_many(center_url: str, token: str, count: int, clients: int = 16) -> list[int]:
    """Post ``count`` calls from several keep-alive clients; the ids of those answered 202."""
    accepted: list[int] = []
    numbers = iter(range(count))

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=center_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as http:
            for i in numbers:
                reply = await http.post("/api/v1/alerts", json=spread(i))
                assert reply.status_code == 202, reply.text
                accepted.append(reply.json()["alert_id"])

    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted


async def wait_all_handled(database_url: str, alert_ids: list[int], within_s: float) -> None:
    """Every one of these alerts exists, was handled by a dispatcher, and its incident left 'received'."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + within_s
        while True:
            row = await conn.fetchrow(
                """select count(*) as found,
                          count(*) filter (where a.handled_at is not null and i.status <> 'received') as done
                   from alerts a join incidents i on i.id = a.incident_id where a.id = any($1::bigint[])""",
                alert_ids,
            )
            assert row is not None
            assert row["found"] == len(alert_ids), "an accepted alert is missing from PostgreSQL"
            if row["done"] == len(alert_ids):
                return
            assert time.monotonic() < deadline, f"only {row['done']} of {len(alert_ids)} handled"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.mark.timeout(240)
async def test_a_thousand_alerts_survive_redis_restarting_empty(stores: Stores, tmp_path: Path) -> None:
    """1,000 alerts accepted and queued; Redis is flushed and restarts empty; every one is still handled."""
    await wipe(stores)
    redis = EmbeddedRedis(tmp_path / "redis", port=free_port())
    redis_url = redis.start()
    try:
        settings = center_settings(stores, redis_url=redis_url, data_dir=tmp_path, dispatcher_tasks=2)
        intake_only = Roles(dispatch=False, scheduler=False)
        async with serving(settings, intake_only) as center:
            accepted = await post_many(center.url, center.token(Role.CALL_TAKER), 1000)
            assert len(set(accepted)) == 1000

            # everything queued is lost: FLUSHALL, then a restart with the persistence files gone
            client = Redis.from_url(redis_url)
            queued = [await client.xlen(f"{{alerts}}:p{p}") for p in (1, 2, 3, 4)]
            assert sum(queued) == 1000
            await client.flushall()
            await client.aclose()
            redis.stop()
            shutil.rmtree(redis.dir)
            redis.start()

            # the API keeps accepting while the queue is gone: PostgreSQL answers for it
            late = await post_many(center.url, center.token(Role.CALL_TAKER), 1, clients=1)
        async with serving(settings, Roles()):
            await wait_all_handled(stores.database_url, accepted + late, within_s=120)
    finally:
        redis.stop()


def start_up(stores: Stores, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_DATA_DIR": str(data_dir), "DISPATCH_SECRET_KEY": SECRET,
            "DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "center.cli", "up", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.timeout(240)
async def test_every_answered_alert_is_handled_after_the_api_is_killed(
    stores: Stores, tmp_path: Path
) -> None:
    """SIGKILL the center in the middle of a load: every alert that got a 2xx exists and is handled."""
    await wipe(stores)
    port = free_port()
    proc = start_up(stores, tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    settings = center_settings(stores, data_dir=tmp_path)
    token = TokenSigner(SECRET).issue(Role.CALL_TAKER, "test-call-taker")
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get(f"{url}/readyz")).status_code == 200:
                        break
                assert proc.poll() is None, "the center exited during start"
                await asyncio.sleep(0.1)

        answered: list[int] = []
        enough = asyncio.Event()

        async def load() -> None:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=5
            ) as http:
                for i in range(100_000):
                    try:
                        reply = await http.post("/api/v1/alerts", json=spread(i % 500))
                    except httpx.HTTPError:
                        return  # the center is gone
                    if reply.is_success:
                        answered.append(reply.json()["alert_id"])
                        if len(answered) >= 300:
                            enough.set()

        loads = [asyncio.create_task(load()) for _ in range(8)]
        await asyncio.wait_for(enough.wait(), 60)
        proc.send_signal(signal.SIGKILL)  # mid-load: some requests are in flight
        await asyncio.gather(*loads)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    async with serving(settings, Roles()):
        await wait_all_handled(stores.database_url, answered, within_s=120)

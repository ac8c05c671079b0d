"""``/metrics`` of a running center, as an operator's Prometheus reads it: what an alert's way moves, who
may read it, and a worker's probe port."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from core.feed import Feed
from core.roles import Role
from tests.conftest import (
    SECRET,
    Center,
    Stores,
    center_settings,
    free_port,
    receive,
    receive_until,
    serving,
    wipe,
)
from tests.helpers import add_unit, post_alert, unit_socket, wait_until
from tests.test_realtime import ops
from tests.test_up import wait_ready

SCENE = (31.2350, 121.4750)


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def value(text: str, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` with these labels (among others), or None when there is none."""
    found = [s.value for s in samples(text) if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{name} {labels}: {len(found)} samples"
    return found[0] if found else None


async def scrape(center: Center, role: Role | None = Role.ADMIN) -> str:
    async with center.client(role) as client:
        reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return reply.text


async def test_an_alert_dispatched_moves_what_an_operator_watches(center: Center) -> None:
    before = await scrape(center)
    offers_before = value(before, "dispatch_alert_to_offer_seconds_count", priority="1") or 0.0

    near = await add_unit(center, "P-NEAR", status="available", at=(SCENE[0] + 0.004, SCENE[1]))
    ws = await unit_socket(center, near)
    await post_alert(center, SCENE)
    offer = await receive_until(ws, lambda m: m.get("kind") == "assignment.offered")
    assert offer["unit_id"] == near

    async def offered() -> str | None:  # the histogram is observed once the handling committed
        text = await scrape(center)
        count = value(text, "dispatch_alert_to_offer_seconds_count", priority="1") or 0.0
        return text if count >= offers_before + 1 else None

    found: str | None = await wait_until(offered)
    assert found is not None
    after = found
    assert (value(after, "dispatch_alert_to_offer_seconds_bucket", priority="1", le="+Inf") or 0) >= 1

    # requests counted under their route template, never the raw path
    alerts = value(after, "dispatch_http_requests_total", route="/api/v1/alerts", method="POST", status="2xx")
    assert alerts is not None and alerts >= 1
    location = "/api/v1/units/{unit_id}/location"
    put = {"route": location, "method": "PUT"}
    assert (value(after, "dispatch_http_requests_total", status="2xx", **put) or 0) >= 1
    assert (value(after, "dispatch_http_request_duration_seconds_count", **put) or 0) >= 1
    routes = {s.labels["route"] for s in samples(after) if s.name == "dispatch_http_requests_total"}
    assert f"/api/v1/units/{near}/location" not in routes

    # read from the stores at scrape time: the unit offered, both stores read
    assert value(after, "dispatch_units", status="offered", kind="patrol_car") == 1
    assert value(after, "dispatch_store_read_up", store="redis") == 1
    assert value(after, "dispatch_store_read_up", store="postgres") == 1
    for p in "1234":
        depth = value(after, "dispatch_queue_depth", priority=p)
        assert depth is not None and not math.isnan(depth)
        assert value(after, "dispatch_queue_oldest_age_seconds", priority=p) is not None
    assert value(after, "dispatch_pending_incidents") == 0

    async def fresh() -> bool:  # positions reach PostgreSQL within the flush interval
        return value(await scrape(center), "dispatch_units_stale", kind="patrol_car") == 0

    none_stale: bool = await wait_until(fresh)
    assert none_stale
    assert (value(after, "dispatch_socket_connections", socket="unit") or 0) >= 1
    assert (value(after, "dispatch_postgres_pool_connections", state="max") or 0) >= 1
    assert (value(after, "dispatch_redis_pool_connections", state="max") or 0) >= 1
    assert value(after, "dispatch_offers_timed_out_total") is not None
    await ws.close()


async def test_a_restricted_metrics_port_refuses_without_the_right_token(center: Center) -> None:
    """By default only an admin's token reads the metrics."""
    async with center.client(None) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with center.client(Role.DISPATCHER) as dispatcher:
        assert (await dispatcher.get("/metrics")).status_code == 403
    assert "dispatch_http_requests_total" in await scrape(center, Role.ADMIN)


async def test_the_operator_chooses_who_reads_the_metrics(stores: Stores) -> None:
    await wipe(stores)
    async with serving(center_settings(stores, metrics="integration")) as center:
        assert "dispatch_queue_depth" in await scrape(center, Role.INTEGRATION)
        async with center.client(Role.DISPLAY) as display:
            assert (await display.get("/metrics")).status_code == 403
        async with center.client(None) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401
    async with serving(center_settings(stores, metrics="open")) as center:
        assert "dispatch_queue_depth" in await scrape(center, None)


def test_a_workers_probe_port_serves_its_metrics(stores: Stores) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_METRICS": "open"}  # fmt: skip
    argv = [sys.executable, "-m", "center.cli", "worker", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, within_s=60)
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    assert reply.status_code == 200, reply.text
    text = reply.text
    assert value(text, "dispatch_store_read_up", store="postgres") == 1
    assert value(text, "dispatch_queue_depth", priority="1") is not None
    assert value(text, "dispatch_http_requests_total", route="/readyz", method="GET", status="2xx")


def test_processes_sharing_a_multiprocess_folder_count_for_each_other(stores: Stores, tmp_path: Path) -> None:
    """Two workers, one PROMETHEUS_MULTIPROC_DIR: either's /metrics counts the other's requests and sums
    the living processes' pools; a worker that stopped leaves the sums of its gauges."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_METRICS": "open",
            "PROMETHEUS_MULTIPROC_DIR": str(folder)}  # fmt: skip
    ports = [free_port(), free_port()]
    argv = [sys.executable, "-m", "center.cli", "worker", "--port"]
    procs = [
        subprocess.Popen([*argv, str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for port in ports
    ]
    first, second = (f"http://127.0.0.1:{port}" for port in ports)

    def readyz_count(text: str) -> float:
        return value(text, "dispatch_http_requests_total", route="/readyz", method="GET", status="2xx") or 0

    def pool_max(text: str) -> float | None:
        return value(text, "dispatch_postgres_pool_connections", state="max")

    try:
        for url, proc in zip((first, second), procs, strict=True):
            wait_ready(url, proc, within_s=60)
        before = readyz_count(httpx.get(f"{first}/metrics", timeout=10).text)
        for _ in range(5):
            assert httpx.get(f"{second}/readyz", timeout=10).status_code == 200
        both = httpx.get(f"{first}/metrics", timeout=10).text
        assert readyz_count(both) >= before + 5
        single = pool_max(both)
        assert single is not None and single > 0
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(30) == 0
        alone = httpx.get(f"{first}/metrics", timeout=10).text
        assert readyz_count(alone) >= before + 5  # counters of a stopped process stay counted
        assert pool_max(alone) == single / 2  # its live gauges left the sum
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    assert any(folder.iterdir())


async def test_a_stalled_screen_is_counted_as_a_slow_client_dropped(center: Center) -> None:
    token = center.token(Role.DISPLAY)
    stalled = await ops(center.ws_url, token, stall=True)
    assert (await receive(stalled))["type"] == "snapshot"
    before = await scrape(center)
    dropped = value(before, "dispatch_socket_slow_clients_dropped_total", socket="ops") or 0.0
    assert (value(before, "dispatch_socket_connections", socket="ops") or 0) >= 1
    feed = Feed(aioredis.Redis.from_url(center.settings.redis_url or ""))
    filler = "x" * 4000
    try:
        async with asyncio.timeout(60):  # published until the screen's queue overflows, however long
            while True:
                await feed.publish([{"kind": "test.filler", "pad": filler} for _ in range(200)])
                now = await scrape(center)
                if (value(now, "dispatch_socket_slow_clients_dropped_total", socket="ops") or 0) > dropped:
                    break
                await asyncio.sleep(0.05)
    finally:
        await feed._redis.aclose()
        await stalled.close()

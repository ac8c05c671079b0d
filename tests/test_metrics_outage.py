"""A store that does not answer at scrape time: ``/metrics`` still answers, the gauges read from it are
NaN or absent, ``dispatch_store_read_up`` says which store, and the log says why. Redis is a throwaway
server of this test's own (the session's servers are left alone)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from center.embedded import EmbeddedRedis
from tests.conftest import Stores, center_settings, serving, wipe
from tests.test_metrics import scrape, value


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "outage")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_redis_down_at_scrape_time_leaves_its_gauges_unknown(
    stores: Stores, own_redis: EmbeddedRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = center_settings(stores, redis_url=own_redis.url, data_dir=tmp_path / "center")
    await wipe(Stores(own_redis.url, stores.database_url))
    async with serving(settings) as center:
        up = await scrape(center)
        assert value(up, "dispatch_store_read_up", store="redis") == 1
        assert value(up, "dispatch_queue_depth", priority="1") == 0
        await asyncio.to_thread(own_redis.stop)
        try:
            with caplog.at_level(logging.WARNING, logger="center.store_gauges"):
                down = await scrape(center)  # answered: 200, never a 500
        finally:
            await asyncio.to_thread(own_redis.start)
    assert value(down, "dispatch_store_read_up", store="redis") == 0
    assert value(down, "dispatch_store_read_up", store="postgres") == 1
    depth = value(down, "dispatch_queue_depth", priority="1")
    assert depth is None or math.isnan(depth)
    assert value(down, "dispatch_units", status="off_duty", kind="patrol_car") is None  # no units: none
    assert value(down, "dispatch_pending_incidents") == 0  # PostgreSQL still answers
    assert any(r.name == "center.store_gauges" and "metrics:" in r.getMessage() for r in caplog.records)

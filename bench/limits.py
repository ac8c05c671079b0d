"""What this machine can do at all, measured in the same run: raw Redis rates and a bare stream hop.

They go beside the center's figures so that a slow figure on a slow machine reads differently from a
slow figure on a fast one. Keys carry the run id and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from bench.report import clock, percentile

PIPELINE = 1000  # commands per round trip
MEMBERS = 10_000  # GEOADD rewrites this many members, like a fleet of 10,000 units


def _pipelined(client: redis.Redis, add: Callable[[Any, int], object], seconds: float) -> float:
    """Commands per second, sent in pipelines of PIPELINE until ``seconds`` have passed."""
    done, start = 0, clock()
    while clock() - start < seconds:
        pipe = client.pipeline(transaction=False)
        for i in range(done, done + PIPELINE):
            add(pipe, i)
        pipe.execute()
        done += PIPELINE
    return done / (clock() - start)


def redis_rates(url: str, run_id: str, seconds: float) -> dict[str, float]:
    """XADD and GEOADD per second from one Python client (the way the center talks to Redis)."""
    client = redis.Redis.from_url(url)
    stream, geo = f"bench:{run_id}:xadd", f"bench:{run_id}:geo"
    rng = random.Random(7)
    points = [(121.3 + rng.random() * 0.3, 31.1 + rng.random() * 0.25) for _ in range(MEMBERS)]
    try:
        xadd = _pipelined(client, lambda p, i: p.xadd(stream, {"alert": i, "incident": i}), seconds)
        geoadd = _pipelined(
            client, lambda p, i: p.geoadd(geo, (*points[i % MEMBERS], f"u{i % MEMBERS}")), seconds
        )
    finally:
        client.delete(stream, geo)
        client.close()
    return {"xadd_per_s": xadd, "geoadd_per_s": geoadd}


async def stream_hop(url: str, run_id: str, count: int, every_s: float = 0.002) -> dict[str, float | None]:
    """XADD -> a blocked XREAD wakes: the one hop every queued alert and every feed event makes.

    Writer and reader share one process and clock; they use separate connections like the center's
    dispatcher and feed reader do."""
    writer, reader = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    key = f"bench:{run_id}:hop"
    sent = [0.0] * count  # by entry number, set before the XADD so the reader never misses it
    hops: list[float] = []

    async def read() -> None:
        last = "0-0"
        while len(hops) < count:
            reply: Any = await reader.xread({key: last}, block=2000, count=100)
            now = clock()
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    hops.append(now - sent[int(fields[b"i"])])

    try:
        task = asyncio.create_task(read(), name="hop-reader")
        await asyncio.sleep(0.05)  # let the reader block first
        for i in range(count):
            sent[i] = clock()
            await writer.xadd(key, {"i": i})
            await asyncio.sleep(every_s)
        await asyncio.wait_for(task, 10)
    finally:
        await writer.delete(key)
        await writer.aclose()
        await reader.aclose()
    ms = [h * 1000 for h in hops]
    return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}

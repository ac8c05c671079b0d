"""The nearest-unit search at fleet scale: the live index's expanding-radius search with N units.

A figure of the index, not of HTTP: measured from the bench's own process against the bench's Redis,
through the center's own ``LiveIndex``, called the way ``Dispatcher.candidates`` calls it (the kinds of
a category's plan, sorted; want = the plan's unit count). The bench's units live under kinds of their
own (``bench<run id>_patrol_car``, ...) and ids far above the roster's, so the center never sees them;
they are deleted afterwards. Beside it: one raw GEOSEARCH round trip, the floor of any such search.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from alerts.catalogue import load_catalogue
from bench.report import clock, percentile
from units.kinds import load_kinds
from units.live import LiveIndex, LiveUnit, index_key, unit_key
from units.status import UnitStatus, dispatchable

FIRST_ID = 1_900_000_000  # far above any roster id this bench creates
PUT_AT_ONCE = 64


def plan_of(category: str) -> tuple[list[str], int]:
    """The kinds a category's plan asks for and how many units, as the dispatcher searches them."""
    kinds = load_kinds()
    plan = load_catalogue(unit_kinds=kinds.keys()).get(category).plan
    return sorted({k for item in plan for k in item.kinds}), max(sum(item.count for item in plan), 1)


async def _timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for i in range(calls):
        start = clock()
        await call(i)
        times.append((clock() - start) * 1000)
    return times


async def nearest_search(
    redis_url: str, run_id: str, category: str, units: int, searches: int,
    city: tuple[float, float, float, float], seed: int = 3,
) -> dict[str, Any]:  # fmt: skip
    """Fill the index with ``units`` available units spread over the city, then time searches at
    random points: the search alone, the search plus reading the candidates' live state (what
    ``Dispatcher.candidates`` does in Redis), and a bare GEOSEARCH."""
    redis = aioredis.Redis.from_url(redis_url)
    live = LiveIndex(redis, [s.value for s in UnitStatus if dispatchable(s)])
    real_kinds, want = plan_of(category)
    kinds = [f"bench{run_id}_{k}" for k in real_kinds]
    rng = random.Random(seed)
    lat0, lat1, lon0, lon1 = city
    ids = list(range(FIRST_ID, FIRST_ID + units))
    gate = asyncio.Semaphore(PUT_AT_ONCE)

    async def put(n: int, unit_id: int) -> None:
        lat, lon = rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)
        unit = LiveUnit(unit_id, f"S{unit_id}", kinds[n % len(kinds)], 1, UnitStatus.AVAILABLE.value, None,
                        frozenset(), lat, lon, 0.0, suspect=False)  # fmt: skip
        async with gate:
            await live.put(unit)

    points = [(rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)) for _ in range(searches)]
    found: list[int] = []

    async def search(i: int) -> None:
        found.append(len(await live.search(kinds, *points[i], want=want)))

    async def candidates(i: int) -> None:
        nearby = await live.search(kinds, *points[i], want=want)
        await live.get([n.unit_id for n in nearby])

    async def geosearch(i: int) -> None:
        lat, lon = points[i]
        await redis.geosearch(index_key(kinds[0]), longitude=lon, latitude=lat, radius=2_000, unit="m",
                              sort="ASC", count=10, withdist=True, withcoord=True)  # fmt: skip

    try:
        start = clock()
        await asyncio.gather(*(put(n, u) for n, u in enumerate(ids)))
        filled_s = clock() - start
        await _timed(min(searches, 100), search)  # warm up: connections, scripts, caches
        found.clear()
        search_ms = await _timed(searches, search)
        candidates_ms = await _timed(searches, candidates)
        geo_ms = await _timed(searches, geosearch)
    finally:
        for chunk in range(0, len(ids), 1000):
            await redis.delete(*(unit_key(u) for u in ids[chunk : chunk + 1000]))
        await redis.delete(*(index_key(k) for k in kinds))
        await redis.aclose()
    return {
        "units": units, "searches": searches, "kinds": real_kinds, "want": want, "fill_s": filled_s,
        "search_ms": search_ms, "candidates_ms": candidates_ms, "geosearch_ms": geo_ms,
        "found_p50": percentile(found, 50), "found_min": min(found, default=0),
    }  # fmt: skip

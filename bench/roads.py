"""Road travel at fleet scale: many-to-one ETA queries on the shipped extract and on a generated city
of 100,000+ crossings, each graph's preparation time and memory, and the whole recommendation with
roads against the straight line at 10,000 live units.

Preparation runs in a fresh child process per extract (its time, and its resident memory before and
after, are that process's alone); queries run here on the prepared form read back from the cache.
Origins are random road nodes moved up to 20 m off the road, new for every query (each fix snapped
afresh: the worst case), and again with one fixed fleet (every snap served from the cache).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from alerts.catalogue import PlanItem
from bench.control import memory_mb
from bench.report import clock
from center.settings import Settings
from dispatch.recommend import Candidate, Scene, recommend
from dispatch.road_travel import RoadTravel
from dispatch.travel import StraightLineTravel, TravelModel
from roads.gridcity import GridCity
from roads.prepared import load_router
from roads.router import EmbeddedRouter, Point
from units.live import LiveIndex, LiveUnit, index_key, unit_key
from units.status import UnitStatus, dispatchable

SHIPPED = Path(__file__).resolve().parent.parent / "simulation" / "data" / "baltimore.osm.pbf"
PROFILE = "emergency"
FIRST_ID = 1_950_000_000  # far above any roster id, and apart from the search section's
JITTER_M = 20.0


def _prepare(extract: str) -> dict[str, Any]:
    """In a fresh process: prepare the extract for one profile and report time and memory."""
    import os

    before = memory_mb(os.getpid()).get("VmRSS", 0.0)
    loaded = load_router(Path(extract), [PROFILE])
    after = memory_mb(os.getpid())
    net = loaded.router.network(PROFILE)
    assert net is not None
    return {"prepare_s": loaded.seconds, "rss_before_mb": before, "rss_after_mb": after.get("VmRSS"),
            "peak_mb": after.get("VmHWM"), "graph_mb": loaded.nbytes / 2**20,
            "nodes": net.graph.node_count, "arcs": net.graph.arc_count}  # fmt: skip


def prepared(extract: Path) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_prepare, str(extract)).result()


def _points(router: EmbeddedRouter, rng: random.Random, count: int) -> list[Point]:
    net = router.network(PROFILE)
    assert net is not None
    g = net.graph
    out = []
    for _ in range(count):
        i = rng.randrange(g.node_count)
        dlat = rng.uniform(-1, 1) * JITTER_M / 111_195
        out.append((float(g.lat[i]) + dlat, float(g.lon[i]) + dlat))
    return out


def eta(router: EmbeddedRouter, sizes: tuple[int, ...], queries: int, seed: int = 5) -> dict[str, Any]:
    """Milliseconds per many-to-one query, by number of origins: fresh fixes, then cached ones."""
    rng = random.Random(seed)
    found: dict[str, Any] = {}
    for size in sizes:
        fleet = _points(router, rng, size)
        router.many_to_one(PROFILE, fleet, _points(router, rng, 1)[0])  # warm up
        fresh, cached = [], []
        for _ in range(queries):
            origins, target = _points(router, rng, size), _points(router, rng, 1)[0]
            start = clock()
            router.many_to_one(PROFILE, origins, target)
            fresh.append((clock() - start) * 1000)
            target = _points(router, rng, 1)[0]
            start = clock()
            router.many_to_one(PROFILE, fleet, target)
            cached.append((clock() - start) * 1000)
        found[str(size)] = {"fresh_ms": fresh, "cached_ms": cached}
    return found


def extract_figures(extract: Path, work: Path, sizes: tuple[int, ...], queries: int) -> dict[str, Any]:
    """Prepare (in a child), load again from the cache (timed here), then time the queries."""
    prep = prepared(extract)
    start = time.perf_counter()
    loaded = load_router(extract, [PROFILE])
    prep["load_s"] = time.perf_counter() - start
    return {"prepare": prep, "eta": eta(loaded.router, sizes, queries)}


def grid_city(work: Path, side: int) -> Path:
    """A city of ``side`` x ``side`` crossings 100 m apart, arterials every 5th street."""
    return GridCity(side, side, cell=5).write(work / f"grid-{side}.osm.pbf")


async def whole_recommendation(
    redis_url: str, run_id: str, router: EmbeddedRouter, units: int, searches: int, pool: int, seed: int = 9,
) -> dict[str, Any]:  # fmt: skip
    """The dispatcher's path for one patrol car (live search, live state, recommend) with ``units``
    available units on the extract, by straight line and by road."""
    redis = aioredis.Redis.from_url(redis_url)
    live = LiveIndex(redis, [s.value for s in UnitStatus if dispatchable(s)])
    kind = f"bench{run_id}_patrol_car"
    rng = random.Random(seed)
    homes = _points(router, rng, units)
    ids = list(range(FIRST_ID, FIRST_ID + units))
    straight = StraightLineTravel({kind: 35.0})
    roads = RoadTravel({kind: PROFILE}, {kind: 35.0}, straight, candidate_pool=pool, router=router)
    scenes = _points(router, rng, searches)
    plan = [PlanItem((kind,), 1)]
    now = time.time()

    async def once(travel: TravelModel, point: Point) -> None:
        nearby = await live.search([kind], *point, want=max(1, travel.candidate_pool))
        state = await live.get([n.unit_id for n in nearby])
        candidates = [Candidate(u.unit_id, u.kind, u.tier, u.lat, u.lon, now - (u.fix_at or now), 60.0)
                      for u in state.values() if u.lat is not None and u.lon is not None]  # fmt: skip
        recommend(Scene(*point, priority=1), plan, candidates, travel)

    async def timed(travel: TravelModel) -> list[float]:
        times = []
        for point in scenes:
            start = clock()
            await once(travel, point)
            times.append((clock() - start) * 1000)
        return times

    try:
        gate = asyncio.Semaphore(64)

        async def put(unit_id: int, home: Point) -> None:
            async with gate:
                await live.put(LiveUnit(unit_id, f"R{unit_id}", kind, 1, UnitStatus.AVAILABLE.value, None,
                                        frozenset(), *home, now, suspect=False))  # fmt: skip

        await asyncio.gather(*(put(u, h) for u, h in zip(ids, homes, strict=True)))
        await timed(straight)  # warm up both paths
        await timed(roads)
        straight_ms = await timed(straight)
        road_ms = await timed(roads)
    finally:
        for chunk in range(0, len(ids), 1000):
            await redis.delete(*(unit_key(u) for u in ids[chunk : chunk + 1000]))
        await redis.delete(index_key(kind))
        await redis.aclose()
    return {"units": units, "searches": searches, "pool": pool, "straight_ms": straight_ms,
            "road_ms": road_ms}  # fmt: skip


def copy_shipped(work: Path) -> Path:
    """The shipped extract in the run's folder, so that its preparation is measured from scratch."""
    target = work / SHIPPED.name
    shutil.copyfile(SHIPPED, target)
    return target


def road_section(run: Any, redis_url: str) -> dict[str, Any]:
    """The section: shipped extract and generated city, then the whole recommendation."""
    import tempfile

    from bench.keepalive import run_loop

    plan, say = run.plan, run.say
    sizes = (50, 2000)
    work = Path(run.stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-bench-roads-")))
    say(f"roads: the shipped extract, prepared from scratch, then {plan.road_queries} queries per size")
    shipped = copy_shipped(work)
    found: dict[str, Any] = {"shipped": extract_figures(shipped, work, sizes, plan.road_queries)}
    side = plan.road_grid_side
    say(f"roads: a generated city of {side * side:,} crossings, prepared, then queried")
    found["grid"] = extract_figures(grid_city(work, side), work, sizes, plan.road_queries)
    say(f"roads: the whole recommendation at {plan.road_units:,} live units, straight line and by road")
    router = load_router(shipped, [PROFILE]).router
    found["recommendation"] = run_loop(whole_recommendation(
        redis_url, run.id, router, plan.road_units, plan.road_searches, pool=Settings().roads_candidates,
    ))  # fmt: skip
    return found

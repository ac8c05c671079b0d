"""The running center: owns connections, the live index, the dispatcher tasks, the feed reader and
the scheduler, and closes them in order. One ``AsyncExitStack``, named tasks, a shutdown deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from accounts.users import UserStore
from alerts.attachments import AttachmentStore
from alerts.catalogue import Catalogue, load_catalogue
from alerts.intake import Intake
from alerts.panic import Panics
from alerts.queue import AlertQueue
from alerts.related import Related
from cases.casebook import CaseBook, Clock, system_clock
from cases.workdays import load_calendar, warn_missing_years
from center import jobs, migrations, store_gauges
from center.connections import open_pool, open_redis
from center.jobs import Parts
from center.process_roles import Roles
from center.server_watch import problems as embedded_problems
from center.settings import Settings
from center.supervision import Failures, Tasks
from core import tracing
from core.feed import Feed
from core.tokens import TokenSigner
from dispatch.candidates import Candidates
from dispatch.dispatcher import Dispatcher
from dispatch.lifecycle import Lifecycle
from dispatch.offers import Offers
from dispatch.pending import PendingList
from dispatch.road_travel import RoadTravel
from dispatch.travel import StraightLineTravel, TravelModel
from dispatch.worker import DispatchWorker, consumer_name
from realtime import snapshot
from realtime.hub import Hub
from realtime.snapshot import SharedSnapshot
from reports.shift_book import ShiftBook
from reports.shifts import parse_starts
from roads.prepared import cache_folder, load_router
from roads.streets import StreetLayer
from units.kinds import UnitKind, load_kinds
from units.live import LiveIndex
from units.positions import FixWindow, PositionService
from units.repair import LiveRepair
from units.roster import Roster
from units.status import UnitStatus, dispatchable
from web.services import Services

log = logging.getLogger(__name__)

__all__ = ["Roles", "readiness", "running_center"]

LIVE_MARKER = "{units}:built"


def without_confirmation(catalogue: Catalogue) -> Catalogue:
    """The catalogue with every category that has a response plan offered at once (auto-dispatch)."""
    return Catalogue(MappingProxyType(
        {c.code: replace(c, auto_dispatch=bool(c.plan)) for c in catalogue}
    ))  # fmt: skip


async def rebuild_live_if_lost(redis: Any, roster: Roster) -> bool:
    """Redis is a cache of PostgreSQL: when it comes back empty, the live index is written again."""
    if await redis.exists(LIVE_MARKER):
        return False
    count = await roster.rebuild_live()
    await redis.set(LIVE_MARKER, "1")
    log.info("live index rebuilt from PostgreSQL: %d units", count)
    return True


async def readiness(pool: asyncpg.Pool, redis: Any, failures: Failures) -> dict[str, str]:
    """Each store, and each background task, job or embedded server that is down now: "ok" or why."""
    checks: dict[str, str] = {**failures.current(), **embedded_problems()}
    try:
        await asyncio.wait_for(redis.ping(), 2)
        checks["redis"] = "ok"
    except (RedisError, OSError, TimeoutError) as exc:
        checks["redis"] = f"unreachable: {exc}"
    try:
        async with asyncio.timeout(2):
            checks["schema"] = "ok" if await migrations.is_current(pool) else "migrations pending"
            checks["postgres"] = "ok"
    except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
        checks["postgres"] = f"unreachable: {exc}"
    return checks


def road_travel(
    settings: Settings, kinds: Mapping[str, UnitKind], straight: StraightLineTravel
) -> RoadTravel:
    """Travel by road for every kind on its profile, the straight line standing in until loaded."""
    return RoadTravel(
        {code: kind.road_profile for code, kind in kinds.items()},
        {code: kind.speed_kmh for code, kind in kinds.items()},
        straight, candidate_pool=settings.roads_candidates,
    )  # fmt: skip


async def load_roads(
    travel: RoadTravel, streets: StreetLayer, settings: Settings, failures: Failures
) -> None:
    """Prepare or load the extract in a thread (seconds to minutes of CPU) and hand it to the travel
    model and the street layer; until then ``/readyz`` lists the roads as loading and units go by
    straight line."""
    extract = settings.roads_file
    assert extract is not None
    failures.down("roads", f"loading {extract.name}")
    fallback = settings.data_dir / "roads"
    loaded = await asyncio.to_thread(
        load_router, extract, travel.wanted_profiles(), fallback, settings.roads_max_snap_m
    )
    travel.attach(loaded.router)
    await asyncio.to_thread(streets.load, extract, cache_folder(extract, fallback), loaded.digest)
    failures.up("roads")


@asynccontextmanager
async def running_center(
    settings: Settings, roles: Roles = Roles(), clock: Clock = system_clock
) -> AsyncIterator[Services]:
    """The center; ``clock`` is the time grid-case deadlines and shift ends are measured by (tests
    move it)."""
    assert settings.redis_url and settings.database_url, "the CLI resolves URLs before starting"
    kinds = load_kinds()
    catalogue = load_catalogue(unit_kinds=kinds.keys())
    if settings.auto_dispatch_all:
        catalogue = without_confirmation(catalogue)
    calendar = load_calendar(zone=settings.timezone, extra_file=settings.workdays_file)
    warn_missing_years(calendar)
    async with AsyncExitStack() as stack:
        if settings.tracing:  # stopped last: it flushes the spans of everything stopped before it
            stack.callback(tracing.start(settings.tracing_endpoint))
        pool = await open_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        redis = open_redis(settings.redis_url)
        stack.push_async_callback(redis.aclose)
        async with pool.acquire() as conn:
            await migrations.migrate(conn)

        live = LiveIndex(
            redis, [s.value for s in UnitStatus if dispatchable(s)],
            {name: kind.max_speed_kmh / 3.6 for name, kind in kinds.items()},
            trusted_ahead_s=settings.fix_max_ahead_s,
        )  # fmt: skip
        feed = Feed(redis)
        queue = AlertQueue(redis)
        await queue.ensure_groups()
        roster = Roster(pool, live, kinds)
        window = FixWindow(settings.fix_max_ahead_s, settings.fix_max_age_s)
        positions = PositionService(pool, live, window=window)
        stack.push_async_callback(positions.close)
        straight = StraightLineTravel({k: v.speed_kmh for k, v in kinds.items()})
        roads = road_travel(settings, kinds, straight) if settings.roads_file else None
        travel: TravelModel = roads or straight
        streets = StreetLayer() if roads else None
        cases = CaseBook(pool, catalogue, calendar, clock)
        offers = Offers(pool, roster, live)
        candidates = Candidates(live, kinds)
        dispatcher = Dispatcher(pool, offers, candidates, catalogue, travel, cases, kinds)
        pending = PendingList(pool, dispatcher, offers, candidates, catalogue, travel)
        lifecycle = Lifecycle(pool, roster, dispatcher, pending, catalogue)
        hub = Hub(feed)
        starts = parse_starts(settings.shift_starts)
        shifts = ShiftBook(pool, catalogue, kinds, starts, settings.timezone, clock)
        await rebuild_live_if_lost(redis, roster)

        tasks = Tasks()
        repair = LiveRepair(pool, live)
        stack.push_async_callback(tasks.stop)
        if roads is not None and streets is not None:
            tasks.start("roads-load", lambda: load_roads(roads, streets, settings, tasks.failures))
        tasks.start("positions-flush", positions.run)
        tasks.start("pool-gauges", lambda: store_gauges.sample_pools_every(pool, redis))
        tasks.start("positions-broadcast", lambda: positions.broadcast(feed, settings.screen_tick_s))
        if roles.api:
            tasks.start("feed-reader", hub.run)
        if roles.dispatch:
            for i in range(settings.dispatcher_tasks):
                worker = DispatchWorker(dispatcher, queue, feed, consumer_name(i))
                tasks.start(f"dispatcher-{i}", worker.run)
        if roles.scheduler:
            parts = Parts(pool, queue, feed, lifecycle, pending, cases,
                          lambda: rebuild_live_if_lost(redis, roster), repair.run_once,
                          tasks.failures, shifts)  # fmt: skip
            scheduler = jobs.schedule(parts, settings)
            scheduler.start()
            stack.callback(lambda: scheduler.shutdown(wait=False))
            # catch up at once on whatever was accepted but not queued before this start
            tasks.start("reconcile-at-start", jobs.reconcile(parts, 0.0))

        async def ready() -> dict[str, Any]:
            return await readiness(pool, redis, tasks.failures)

        async def scrape() -> store_gauges.Scraped:
            store_gauges.sample_pools(pool, redis)  # this process's own, as of now
            return await store_gauges.read(pool, queue, kinds)

        intake = Intake(pool, catalogue, queue)
        yield Services(
            pool=pool, redis=redis, signer=TokenSigner(settings.secret(), settings.token_ttl_s),
            catalogue=catalogue, kinds=kinds, intake=intake, roster=roster,
            panics=Panics(pool, intake, roster, live),
            related=Related(pool, queue), cases=cases,
            attachments=AttachmentStore(pool, settings.attachments_dir()),
            live=live, positions=positions, dispatcher=dispatcher, lifecycle=lifecycle, feed=feed, hub=hub,
            snapshots=SharedSnapshot(lambda: snapshot.build(pool, roster, live, kinds, cases)),
            readiness=ready, scrape=scrape, metrics_access=settings.metrics,
            users=UserStore(pool, settings.login_max_failures, settings.login_lock_s,
                            settings.login_token_ttl_s),
            shifts=shifts, timezone=settings.timezone,
            allowed_origins=frozenset(settings.allowed_origins), max_body_bytes=settings.max_body_bytes,
            roads=roads, streets=streets,
        )  # fmt: skip

"""The running center: owns connections, the live index, the dispatcher tasks, the feed reader and
the scheduler, and closes them in order. One ``AsyncExitStack``, named tasks, a shutdown deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from alerts.attachments import AttachmentStore
from alerts.catalogue import load_catalogue
from alerts.intake import Intake
from alerts.queue import AlertQueue
from alerts.reconciler import requeue_unhandled
from alerts.related import Related
from center import migrations
from center.connections import open_pool, open_redis
from center.settings import Settings
from core.feed import Feed
from core.tokens import TokenSigner
from dispatch.dispatcher import Dispatcher
from dispatch.lifecycle import Lifecycle
from dispatch.pending import PendingList
from dispatch.timers import expire_overdue_offers
from dispatch.travel import StraightLineTravel
from dispatch.worker import DispatchWorker, consumer_name
from realtime.hub import Hub
from units import history
from units.kinds import load_kinds
from units.live import LiveIndex
from units.positions import PositionService
from units.roster import Roster
from units.status import UnitStatus, dispatchable
from web.services import Services

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0
LIVE_MARKER = "{units}:built"


@dataclass(frozen=True, slots=True)
class Roles:
    """Which parts of the center this process runs."""

    api: bool = True
    dispatch: bool = True
    scheduler: bool = True


class Tasks:
    """Named background tasks with a shutdown policy: cancel, wait up to a deadline, log what hung."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = False

    def start(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s crashed", name)
                raise

        self._tasks[name] = asyncio.create_task(guarded(), name=name)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks.values():
            task.cancel()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks.values(), timeout=SHUTDOWN_GRACE_S)
        for task in pending:
            log.error("task %s did not stop within %.0f s", task.get_name(), SHUTDOWN_GRACE_S)


async def rebuild_live_if_lost(redis: Any, roster: Roster) -> bool:
    """Redis is a cache of PostgreSQL: when it comes back empty, the live index is written again."""
    if await redis.exists(LIVE_MARKER):
        return False
    count = await roster.rebuild_live()
    await redis.set(LIVE_MARKER, "1")
    log.info("live index rebuilt from PostgreSQL: %d units", count)
    return True


async def readiness(pool: asyncpg.Pool, redis: Any) -> dict[str, str]:
    checks: dict[str, str] = {}
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


@asynccontextmanager
async def running_center(settings: Settings, roles: Roles = Roles()) -> AsyncIterator[Services]:
    assert settings.redis_url and settings.database_url, "the CLI resolves URLs before starting"
    kinds = load_kinds()
    catalogue = load_catalogue(unit_kinds=kinds.keys())
    async with AsyncExitStack() as stack:
        pool = await open_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        redis = open_redis(settings.redis_url)
        stack.push_async_callback(redis.aclose)
        async with pool.acquire() as conn:
            await migrations.migrate(conn)

        live = LiveIndex(
            redis, [s.value for s in UnitStatus if dispatchable(s)],
            {name: kind.max_speed_kmh / 3.6 for name, kind in kinds.items()},
        )  # fmt: skip
        feed = Feed(redis)
        queue = AlertQueue(redis)
        await queue.ensure_groups()
        roster = Roster(pool, live, kinds)
        positions = PositionService(pool, live)
        stack.push_async_callback(positions.close)
        travel = StraightLineTravel({k: v.speed_kmh for k, v in kinds.items()})
        dispatcher = Dispatcher(pool, roster, live, feed, catalogue, kinds, travel)
        pending = PendingList(dispatcher)
        lifecycle = Lifecycle(dispatcher, pending)
        hub = Hub(feed)
        await rebuild_live_if_lost(redis, roster)

        tasks = Tasks()
        stack.push_async_callback(tasks.stop)
        tasks.start("positions-flush", positions.run)
        tasks.start("positions-broadcast", lambda: positions.broadcast(feed, settings.screen_tick_s))
        if roles.api:
            tasks.start("feed-reader", hub.run)
        if roles.dispatch:
            for i in range(settings.dispatcher_tasks):
                worker = DispatchWorker(dispatcher, queue, consumer_name(i))
                tasks.start(f"dispatcher-{i}", worker.run)
        if roles.scheduler:
            scheduler = AsyncIOScheduler()

            async def reconcile(older_than_s: float = settings.requeue_after_s) -> None:
                try:
                    await rebuild_live_if_lost(redis, roster)
                    await requeue_unhandled(pool, queue, older_than_s)
                except (RedisError, OSError, asyncpg.PostgresError):
                    log.warning("reconciler could not run; next time", exc_info=True)

            async def prune_history() -> None:
                try:
                    removed = await history.prune(pool, timedelta(days=settings.positions_retention_days))
                    if removed:
                        log.info("position history: %d fixes past retention deleted", removed)
                except (OSError, asyncpg.PostgresError):
                    log.warning("position history retention could not run; next time", exc_info=True)

            async def offer_timeouts() -> None:
                try:
                    await expire_overdue_offers(lifecycle)
                except (RedisError, OSError, asyncpg.PostgresError):
                    log.warning("offer deadlines could not be checked; next time", exc_info=True)

            async def pending_sweep() -> None:
                try:
                    await pending.sweep()
                except (RedisError, OSError, asyncpg.PostgresError):
                    log.warning("pending incidents could not be swept; next time", exc_info=True)

            # both run at once on start: a deadline passed while the center was down is handled now
            scheduler.add_job(offer_timeouts, "interval", seconds=settings.offer_check_every_s,
                              id="offer-timeouts", max_instances=1, coalesce=True,
                              next_run_time=datetime.now(UTC))  # fmt: skip
            scheduler.add_job(pending_sweep, "interval", seconds=settings.pending_sweep_every_s,
                              id="pending-sweep", max_instances=1, coalesce=True,
                              next_run_time=datetime.now(UTC))  # fmt: skip
            scheduler.add_job(reconcile, "interval", seconds=settings.reconcile_every_s, id="reconcile",
                              max_instances=1, coalesce=True)  # fmt: skip
            scheduler.add_job(prune_history, "interval", hours=1, id="prune-history", max_instances=1,
                              coalesce=True, next_run_time=datetime.now(UTC))  # fmt: skip
            scheduler.start()
            stack.callback(lambda: scheduler.shutdown(wait=False))
            # catch up at once on whatever was accepted but not queued before this start
            tasks.start("reconcile-at-start", lambda: reconcile(0.0))

        async def ready() -> dict[str, Any]:
            return await readiness(pool, redis)

        yield Services(
            pool=pool, redis=redis, signer=TokenSigner(settings.secret(), settings.token_ttl_s),
            catalogue=catalogue, kinds=kinds, intake=Intake(pool, catalogue, queue, feed), roster=roster,
            related=Related(pool, queue), attachments=AttachmentStore(pool, settings.attachments_dir()),
            live=live, positions=positions, dispatcher=dispatcher, lifecycle=lifecycle, feed=feed, hub=hub,
            readiness=ready,
            allowed_origins=frozenset(settings.allowed_origins), max_body_bytes=settings.max_body_bytes,
        )  # fmt: skip

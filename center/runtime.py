"""The running center: owns connections, the live index, the dispatcher tasks, the feed reader and
the scheduler, and closes them in order. One ``AsyncExitStack``, named tasks, a shutdown deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from alerts.attachments import AttachmentStore
from alerts.casebook import CaseBook, Clock, system_clock
from alerts.catalogue import Catalogue, load_catalogue
from alerts.intake import Intake
from alerts.queue import AlertQueue
from alerts.related import Related
from alerts.workdays import load_calendar, warn_missing_years
from center import jobs, migrations
from center.connections import open_pool, open_redis
from center.jobs import Parts
from center.settings import Settings
from core.feed import Feed
from core.tokens import TokenSigner
from dispatch.dispatcher import Dispatcher
from dispatch.lifecycle import Lifecycle
from dispatch.pending import PendingList
from dispatch.travel import StraightLineTravel
from dispatch.worker import DispatchWorker, consumer_name
from realtime import snapshot
from realtime.hub import Hub
from realtime.snapshot import SharedSnapshot
from units.kinds import load_kinds
from units.live import LiveIndex
from units.positions import PositionService
from units.roster import Roster
from units.status import UnitStatus, dispatchable
from web.services import Services
from web.users import UserStore

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
        if not self._tasks:
            return
        # cancel again until each has stopped: a cancellation can be lost (on Python 3.11 an
        # asyncio.timeout expiring at the same moment turns it into a TimeoutError, which a task that
        # retries on errors survives), and a task must never outlive the pools it uses
        pending = set(self._tasks.values())
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE_S
        while pending and asyncio.get_running_loop().time() < deadline:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in pending:
            log.error("task %s did not stop within %.0f s", task.get_name(), SHUTDOWN_GRACE_S)
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("task %s had ended with %r", task.get_name(), task.exception())


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
async def running_center(
    settings: Settings, roles: Roles = Roles(), clock: Clock = system_clock
) -> AsyncIterator[Services]:
    """The center; ``clock`` is the time grid-case deadlines are measured by (tests move it)."""
    assert settings.redis_url and settings.database_url, "the CLI resolves URLs before starting"
    kinds = load_kinds()
    catalogue = load_catalogue(unit_kinds=kinds.keys())
    if settings.auto_dispatch_all:
        catalogue = without_confirmation(catalogue)
    calendar = load_calendar(zone=settings.timezone, extra_file=settings.workdays_file)
    warn_missing_years(calendar)
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
        cases = CaseBook(pool, catalogue, calendar, clock)
        dispatcher = Dispatcher(pool, roster, live, feed, catalogue, kinds, travel, cases)
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
            parts = Parts(pool, queue, feed, lifecycle, pending, cases,
                          lambda: rebuild_live_if_lost(redis, roster))  # fmt: skip
            scheduler = jobs.schedule(parts, settings)
            scheduler.start()
            stack.callback(lambda: scheduler.shutdown(wait=False))
            # catch up at once on whatever was accepted but not queued before this start
            tasks.start("reconcile-at-start", jobs.reconcile(parts, 0.0))

        async def ready() -> dict[str, Any]:
            return await readiness(pool, redis)

        yield Services(
            pool=pool, redis=redis, signer=TokenSigner(settings.secret(), settings.token_ttl_s),
            catalogue=catalogue, kinds=kinds, intake=Intake(pool, catalogue, queue, feed), roster=roster,
            related=Related(pool, queue), cases=cases,
            attachments=AttachmentStore(pool, settings.attachments_dir()),
            live=live, positions=positions, dispatcher=dispatcher, lifecycle=lifecycle, feed=feed, hub=hub,
            snapshots=SharedSnapshot(lambda: snapshot.build(pool, roster, live, kinds, cases)),
            readiness=ready,
            users=UserStore(pool, settings.login_max_failures, settings.login_lock_s,
                            settings.login_token_ttl_s),
            allowed_origins=frozenset(settings.allowed_origins), max_body_bytes=settings.max_body_bytes,
        )  # fmt: skip

"""The scheduler's jobs. Every deadline lives in PostgreSQL; APScheduler only wakes the checks, and the
deadline checks also run at once on start, so what fell due while the center was down is handled now.
A job that fails (a store unreachable) is logged and simply runs again next time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from alerts.queue import AlertQueue
from alerts.reconciler import requeue_unhandled
from cases.casebook import CaseBook
from center.settings import Settings
from center.supervision import Failures
from core.errors import DomainError
from core.feed import Feed
from dispatch.lifecycle import Lifecycle
from dispatch.pending import PendingList
from dispatch.timers import expire_overdue_offers
from reports.shift_book import ShiftBook
from units import history

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Parts:
    """What the jobs work on."""

    pool: asyncpg.Pool
    queue: AlertQueue
    feed: Feed
    lifecycle: Lifecycle
    pending: PendingList
    cases: CaseBook
    rebuild_live: Job  # writes the live index again when Redis lost it
    repair_live: Job  # writes again units whose live status drifted from PostgreSQL
    failures: Failures
    shifts: ShiftBook


def _guarded(name: str, work: Job, failures: Failures) -> Callable[[], Awaitable[None]]:
    """The job, never raising: a failure is logged and listed as down (``/readyz``) until the job
    next succeeds."""

    async def run() -> None:
        try:
            await work()
        except (RedisError, OSError, asyncpg.PostgresError, DomainError) as exc:
            log.warning("job %s could not run; it runs again next time", name, exc_info=True)
            failures.down(f"job {name}", f"could not run: {type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("job %s crashed; it runs again next time", name)
            failures.down(f"job {name}", f"crashed: {type(exc).__name__}: {exc}")
        else:
            failures.up(f"job {name}")

    # named as the job, not `_guarded.<locals>.run`, wherever the function is shown by its name
    # (APScheduler names a job after its function when it is not given a name)
    run.__name__ = run.__qualname__ = f"job:{name}"
    return run


def reconcile(parts: Parts, older_than_s: float) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await parts.rebuild_live()
        await requeue_unhandled(parts.pool, parts.queue, older_than_s)

    return _guarded("reconcile", run, parts.failures)


def schedule(parts: Parts, settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()

    async def pending_sweep() -> None:
        await parts.feed.publish((await parts.pending.sweep())[1])

    async def case_deadlines() -> None:
        await parts.feed.publish(await parts.cases.check_deadlines())

    async def prune_history() -> None:
        keep = timedelta(days=settings.positions_retention_days)
        if removed := await history.prune(parts.pool, keep):
            log.info("position history: %d fixes past retention deleted", removed)

    now = datetime.now(UTC)
    jobs: list[tuple[str, Job, float, datetime | None]] = [
        (
            "offer-timeouts",
            lambda: expire_overdue_offers(parts.lifecycle, parts.feed.publish),
            settings.offer_check_every_s,
            now,
        ),
        ("pending-sweep", pending_sweep, settings.pending_sweep_every_s, now),
        ("case-deadlines", case_deadlines, settings.case_check_every_s, now),
        ("prune-history", prune_history, 3600.0, now),
        ("shift-reports", parts.shifts.make_due, settings.shift_check_every_s, now),
        ("live-repair", parts.repair_live, settings.live_repair_every_s, None),
    ]
    for name, work, every_s, first in jobs:
        scheduler.add_job(_guarded(name, work, parts.failures), "interval", seconds=every_s, id=name,
                          name=name, max_instances=1, coalesce=True,
                          **({"next_run_time": first} if first else {}))  # fmt: skip
    # the reconciler is wrapped already
    scheduler.add_job(reconcile(parts, settings.requeue_after_s), "interval", id="reconcile",
                      name="reconcile", seconds=settings.reconcile_every_s, max_instances=1,
                      coalesce=True)  # fmt: skip
    return scheduler

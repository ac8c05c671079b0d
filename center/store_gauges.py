"""Gauges read from Redis and PostgreSQL when ``/metrics`` is scraped, and the pools' use.

The stores hold the center-wide truth (the queue, incidents, units), so the process answering a scrape
reads it once, bounded by a timeout: a store that does not answer in time leaves its gauges NaN (or
absent, for series whose labels only the store knows), ``dispatch_store_read_up`` 0 and a warning in the
log, never a failed scrape. The pools are each process's own: sampled into ``core/metrics.py``'s gauges.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from alerts.incidents import OPEN, IncidentStatus
from alerts.queue import PRIORITIES, AlertQueue
from core import metrics
from units.kinds import UnitKind
from units.status import UnitStatus

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 2.0
NAN = math.nan
# a unit in these is not expected to send positions
OFF_SHIFT = (UnitStatus.OFF_DUTY.value, UnitStatus.OUT_OF_SERVICE.value)

_UNITS_SQL = """
    select u.kind, u.status, count(*) as units,
           count(*) filter (where u.status <> all($3::text[])
                              and (u.fix_at is null or u.fix_at < now() - make_interval(secs => k.stale_s)))
               as stale
    from units u left join unnest($1::text[], $2::float8[]) as k(kind, stale_s) using (kind)
    where u.retired_at is null
    group by u.kind, u.status
"""


class Scraped(Collector):
    """Metric families already read: what a registry collects for one scrape."""

    def __init__(self, families: Iterable[GaugeMetricFamily]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return iter(self.families)


async def _queue(queue: AlertQueue) -> list[GaugeMetricFamily]:
    depth = GaugeMetricFamily("dispatch_queue_depth", "Alerts in the dispatch queue, by priority",
                              labels=["priority"])  # fmt: skip
    age = GaugeMetricFamily("dispatch_queue_oldest_age_seconds",
                            "Age of the oldest alert in the dispatch queue, by priority (0 when empty)",
                            labels=["priority"])  # fmt: skip
    try:
        backlog: Mapping[int, tuple[int, float | None]] = await queue.backlog()
    except (RedisError, OSError, TimeoutError):
        log.warning("metrics: the dispatch queue could not be read", exc_info=True)
        backlog = {}
    for p in PRIORITIES:
        length, oldest = backlog.get(p, (NAN, NAN))
        depth.add_metric([str(p)], float(length))
        age.add_metric([str(p)], NAN if p not in backlog else float(oldest or 0.0))
    return [depth, age, _up("redis", bool(backlog))]


async def _postgres(pool: asyncpg.Pool, kinds: Mapping[str, UnitKind]) -> list[GaugeMetricFamily]:
    open_ = GaugeMetricFamily("dispatch_open_incidents", "Open incidents, by status", labels=["status"])
    pending = GaugeMetricFamily("dispatch_pending_incidents",
                                "Incidents on the pending list: nobody free to send")  # fmt: skip
    units = GaugeMetricFamily("dispatch_units", "Units (not retired), by status and kind",
                              labels=["status", "kind"])  # fmt: skip
    stale = GaugeMetricFamily("dispatch_units_stale",
                              "Units on shift with no position within their kind's stale_after_s, by kind",
                              labels=["kind"])  # fmt: skip
    try:
        async with pool.acquire(timeout=READ_TIMEOUT_S) as conn:
            by_status: list[Any] = await conn.fetch(
                "select status, count(*) as n from incidents where closed_at is null group by status"
            )
            unit_rows: list[Any] = await conn.fetch(
                _UNITS_SQL, list(kinds), [float(k.stale_after_s) for k in kinds.values()], list(OFF_SHIFT)
            )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        log.warning("metrics: incidents and units could not be read", exc_info=True)
        for status in sorted(s.value for s in OPEN):
            open_.add_metric([status], NAN)
        pending.add_metric([], NAN)
        return [open_, pending, units, stale, _up("postgres", False)]
    counts = {r["status"]: int(r["n"]) for r in by_status}
    for status in sorted(s.value for s in OPEN):
        open_.add_metric([status], float(counts.get(status, 0)))
    pending.add_metric([], float(counts.get(IncidentStatus.PENDING.value, 0)))
    stale_by_kind: dict[str, int] = dict.fromkeys(kinds, 0)
    for r in unit_rows:
        units.add_metric([r["status"], r["kind"]], float(r["units"]))
        stale_by_kind[r["kind"]] = stale_by_kind.get(r["kind"], 0) + int(r["stale"])
    for kind, n in sorted(stale_by_kind.items()):
        stale.add_metric([kind], float(n))
    return [open_, pending, units, stale, _up("postgres", True)]


def _up(store: str, ok: bool) -> GaugeMetricFamily:
    family = GaugeMetricFamily("dispatch_store_read_up",
                               "1 when this scrape read the store in time, 0 when it could not",
                               labels=["store"])  # fmt: skip
    family.add_metric([store], 1.0 if ok else 0.0)
    return family


async def _bounded(name: str, work: Any, fallback: list[GaugeMetricFamily]) -> list[GaugeMetricFamily]:
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            found: list[GaugeMetricFamily] = await work
            return found
    except TimeoutError:
        log.warning("metrics: %s did not answer within %.0f s", name, READ_TIMEOUT_S)
        return fallback


async def read(pool: asyncpg.Pool, queue: AlertQueue, kinds: Mapping[str, UnitKind]) -> Scraped:
    """Both stores at once, each within READ_TIMEOUT_S."""
    redis_part, pg_part = await asyncio.gather(
        _bounded("redis", _queue(queue), [_up("redis", False)]),
        _bounded("postgres", _postgres(pool, kinds), [_up("postgres", False)]),
    )
    families = [*redis_part, *pg_part]
    up = [f for f in families if f.name == "dispatch_store_read_up"]
    merged = GaugeMetricFamily(up[0].name, up[0].documentation, labels=["store"])
    for f in up:
        for sample in f.samples:
            merged.add_metric([sample.labels["store"]], sample.value)
    return Scraped([*(f for f in families if f.name != "dispatch_store_read_up"), merged])


def sample_pools(pool: asyncpg.Pool, redis: Any) -> None:
    """This process's pools into the pool gauges (no I/O: what the pools know of themselves)."""
    size, idle = pool.get_size(), pool.get_idle_size()
    metrics.POSTGRES_POOL.labels(state="in_use").set(size - idle)
    metrics.POSTGRES_POOL.labels(state="idle").set(idle)
    metrics.POSTGRES_POOL.labels(state="max").set(pool.get_max_size())
    # redis-py keeps no public count: its pool's own two collections (the same since redis 4)
    connections = redis.connection_pool
    metrics.REDIS_POOL.labels(state="in_use").set(len(getattr(connections, "_in_use_connections", ())))
    metrics.REDIS_POOL.labels(state="idle").set(len(getattr(connections, "_available_connections", ())))
    metrics.REDIS_POOL.labels(state="max").set(connections.max_connections)


async def sample_pools_every(pool: asyncpg.Pool, redis: Any, every_s: float = 5.0) -> None:
    """The supervised task of each process: its pools' use, sampled."""
    while True:
        sample_pools(pool, redis)
        await asyncio.sleep(every_s)

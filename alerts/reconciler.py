"""The reconciler: anything accepted but not handled (Redis down, process killed, Redis restarted
empty) is queued again. Handling is idempotent, so queuing twice is harmless."""

from __future__ import annotations

import logging

import asyncpg

from alerts.queue import AlertQueue

log = logging.getLogger(__name__)


async def requeue_unhandled(
    pool: asyncpg.Pool, queue: AlertQueue, older_than_s: float, limit: int = 10_000
) -> int:
    rows = await pool.fetch(
        """select id, incident_id, priority from alerts
           where handled_at is null and received_at < now() - make_interval(secs => $1)
           order by priority, received_at limit $2""",
        older_than_s, limit,
    )  # fmt: skip
    await queue.ensure_groups()
    for r in rows:
        await queue.put(r["id"], r["incident_id"], r["priority"])
    if rows:
        log.info("re-queued %d accepted alerts that were not handled", len(rows))
    return len(rows)

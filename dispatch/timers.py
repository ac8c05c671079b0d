"""Offer deadlines: an offer not acknowledged in time is withdrawn and the next candidate asked.

The deadlines live in PostgreSQL (``assignments.offer_deadline``); the scheduler only wakes this check,
so a center that was down past a deadline handles the overdue offers as soon as it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core import metrics
from core.errors import Conflict, NotFound
from core.eventlog import Event
from dispatch.assignments import AssignmentStatus
from dispatch.lifecycle import Lifecycle

log = logging.getLogger(__name__)


async def expire_overdue_offers(
    lifecycle: Lifecycle, publish: Callable[[list[Event]], Awaitable[object]], limit: int = 200
) -> int:
    """Time out every offer past its deadline, publishing each one's events as it goes (this is a
    scheduled job: an edge); the number timed out."""
    rows = await lifecycle.pool.fetch(
        """select id from assignments where status = 'offered' and offer_deadline < now()
           order by offer_deadline limit $1""",
        limit,
    )
    expired = 0
    for r in rows:
        try:
            _, written = await lifecycle.advance(
                r["id"], AssignmentStatus.TIMED_OUT, "system:offer-timer", reason="not acknowledged in time"
            )
        except (Conflict, NotFound):
            continue  # acknowledged or cancelled a moment ago: nothing to withdraw
        expired += 1
        metrics.OFFERS_TIMED_OUT.inc()
        await publish(written)
    if expired:
        log.warning("%d offers were not acknowledged in time and went to the next candidates", expired)
    return expired

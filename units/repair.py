"""The live repair: units whose status in Redis has drifted from PostgreSQL are written again.

A claim is taken in Redis before its records are written in PostgreSQL. A dispatcher killed between
the two (or a Redis write lost after a commit) leaves a unit that Redis thinks is offered while
PostgreSQL, the system of record, says it is free: nobody would ever send it again. A disagreement
seen twice in a row, with no status change in PostgreSQL in between, is such a leftover, not a write
in flight; the unit is then written again from PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import asyncpg

from units.live import LiveIndex

log = logging.getLogger(__name__)


def lasting(before: Mapping[int, int], now: Mapping[int, int]) -> set[int]:
    """Units that disagreed both times at the same status version of PostgreSQL."""
    return {unit_id for unit_id, version in now.items() if before.get(unit_id) == version}


class LiveRepair:
    def __init__(self, pool: asyncpg.Pool, live: LiveIndex, batch: int = 2_000) -> None:
        self._pool = pool
        self._live = live
        self._batch = batch
        self._disagreeing: dict[int, int] = {}  # unit -> PostgreSQL's status version when last seen

    async def run_once(self) -> int:
        """One comparison of every active unit; the number of units written again."""
        rows = await self._pool.fetch(
            "select id, kind, status, status_version from units where retired_at is null order by id"
        )
        now: dict[int, int] = {}
        seen: dict[int, str] = {}  # what Redis said
        truth = {r["id"]: r for r in rows}
        ids = list(truth)
        for start in range(0, len(ids), self._batch):
            chunk = ids[start : start + self._batch]
            for unit_id, status in (await self._live.statuses(chunk)).items():
                if status is not None and status != truth[unit_id]["status"]:
                    now[unit_id] = truth[unit_id]["status_version"]
                    seen[unit_id] = status
        stuck = lasting(self._disagreeing, now)
        self._disagreeing = {u: v for u, v in now.items() if u not in stuck}
        for unit_id in sorted(stuck):
            r = truth[unit_id]
            # only over what was seen: a claim or a status written since is left alone
            await self._live.set_status(
                unit_id, r["kind"], r["status"], expect=[seen[unit_id]], version=r["status_version"]
            )
        if stuck:
            log.warning("live repair: units %s were out of step with PostgreSQL", sorted(stuck))
        return len(stuck)

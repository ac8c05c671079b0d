"""Position fixes: applied to the live index at once, kept in PostgreSQL in batches for history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from units.kinds import UnitKind
from units.live import Fix, LiveIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FixVerdict:
    unit_id: int
    verdict: str  # ok, old (older or repeated, ignored), suspect (implausible jump), unknown (no such unit)


class PositionService:
    """Takes fixes from any entry point (HTTP, batch, socket) and remembers them."""

    def __init__(
        self, pool: asyncpg.Pool, live: LiveIndex, kinds: Mapping[str, UnitKind], flush_every_s: float = 1.0
    ) -> None:
        self._pool = pool
        self._live = live
        self._kinds = kinds
        self._flush_every_s = flush_every_s
        self._pending: list[tuple[Fix, bool]] = []
        self._max_speed: dict[int, float] = {}
        # units whose position changed since the last tick, for coalesced screen updates
        self.moved: dict[int, Fix] = {}

    async def report(self, fixes: Sequence[Fix]) -> list[FixVerdict]:
        await self._learn_speeds([f.unit_id for f in fixes])
        verdicts = await self._live.record_fixes(fixes, self._max_speed)
        for fix, verdict in zip(fixes, verdicts, strict=True):
            if verdict in ("ok", "suspect"):
                self._pending.append((fix, verdict == "suspect"))
            if verdict == "ok":
                self.moved[fix.unit_id] = fix
        return [FixVerdict(f.unit_id, v) for f, v in zip(fixes, verdicts, strict=True)]

    async def _learn_speeds(self, unit_ids: Sequence[int]) -> None:
        unknown = [u for u in unit_ids if u not in self._max_speed]
        if not unknown:
            return
        for unit_id, kind in (await self._live.kinds_of(unknown)).items():
            spec = self._kinds.get(kind or "")
            if spec is not None:
                self._max_speed[unit_id] = spec.max_speed_kmh / 3.6

    def take_moved(self) -> dict[int, Fix]:
        moved, self.moved = self.moved, {}
        return moved

    async def flush(self) -> int:
        """Write buffered fixes in one COPY and the last known positions in one statement."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        received = datetime.now(UTC)
        rows = [
            (f.unit_id, datetime.fromtimestamp(f.at, UTC), f.lat, f.lon, f.accuracy_m, f.speed_mps,
             f.heading, suspect, received)
            for f, suspect in batch
        ]  # fmt: skip
        latest: dict[int, Fix] = {}
        for fix, suspect in batch:
            if not suspect:
                latest[fix.unit_id] = fix
        try:
            await self._write(rows, latest)
        except BaseException:
            self._pending[:0] = batch  # keep the fixes for the next flush
            raise
        return len(rows)

    async def _write(self, rows: Sequence[tuple[object, ...]], latest: dict[int, Fix]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "positions",
                records=rows,
                columns=["unit_id", "at", "lat", "lon", "accuracy_m", "speed_mps", "heading", "suspect",
                         "received_at"],
            )  # fmt: skip
            await conn.executemany(
                """update units set lat = $2, lon = $3, fix_at = $4, fix_suspect = false
                   where id = $1 and (fix_at is null or fix_at < $4)""",
                [(u, f.lat, f.lon, datetime.fromtimestamp(f.at, UTC)) for u, f in latest.items()],
            )

    async def run(self) -> None:
        """Flush forever; owned by the runtime's task group."""
        while True:
            await asyncio.sleep(self._flush_every_s)
            try:
                await self.flush()
            except (OSError, asyncpg.PostgresError):
                log.exception("position history flush failed; will retry")

    async def close(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self.flush()

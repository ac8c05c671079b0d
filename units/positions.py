"""Position fixes: applied to the live index at once, kept in PostgreSQL in batches for history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from redis.exceptions import RedisError

from core.errors import Invalid
from core.feed import UNITS_MOVED, Feed
from units.live import Fix, LiveIndex

log = logging.getLogger(__name__)


def _iso(epoch_s: float) -> str:
    """Times on the feed are ISO 8601, as in every answer (an ``ok`` fix is within the clock window)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


# A phone's clock may run a little fast; a fix from further ahead is a wrong clock, and taking it would
# make every later real fix look older than it (the unit would freeze on the map).
MAX_AHEAD_S = 300.0
# An older fix is refused: it cannot be the unit's position, and history that old is not a live report.
MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class FixVerdict:
    unit_id: int
    # ok, old (older or repeated, ignored), suspect (implausible jump), unknown (no such unit), future
    # (too far ahead of the center's clock), too_old (too far behind it); the last two are refused
    # before anything is recorded
    verdict: str


@dataclass(frozen=True, slots=True)
class FixWindow:
    """How far a fix time may be ahead of the center's clock, and how far behind it."""

    ahead_s: float = MAX_AHEAD_S
    behind_s: float = MAX_AGE_S

    def verdict(self, at: float, now: float) -> str | None:
        """Why a fix time is refused, or None when it is within the window around ``now``."""
        if not math.isfinite(at) or at > now + self.ahead_s:
            return "future"
        if at < now - self.behind_s:
            return "too_old"
        return None

    def refuse(self, fix: Fix, now: float) -> None:
        """Raise the field error for a fix time outside the window (single fixes: HTTP, socket)."""
        verdict = self.verdict(fix.at, now)
        if verdict == "future":
            raise Invalid(
                f"fix time is more than {self.ahead_s:.0f} s ahead of the center's clock", field="at",
                verdict=verdict, center_time=now,
            )  # fmt: skip
        if verdict == "too_old":
            raise Invalid(
                f"fix time is more than {self.behind_s:.0f} s old", field="at", verdict=verdict,
                center_time=now,
            )  # fmt: skip


class PositionService:
    """Takes fixes from any entry point (HTTP, batch, socket) and remembers them."""

    def __init__(
        self, pool: asyncpg.Pool, live: LiveIndex, flush_every_s: float = 1.0, gather_s: float = 0.002,
        window: FixWindow = FixWindow(),
    ) -> None:  # fmt: skip
        self._pool = pool
        self.window = window
        self._live = live
        self._flush_every_s = flush_every_s
        self._pending: list[tuple[Fix, bool]] = []
        # fixes from sockets waiting to go to Redis together
        self._gathering: list[tuple[Fix, asyncio.Future[FixVerdict]]] = []
        self._batches: set[asyncio.Task[None]] = set()
        self._gather_s = gather_s
        # units whose position changed since the last tick, for coalesced screen updates
        self.moved: dict[int, Fix] = {}

    async def report(self, fixes: Sequence[Fix]) -> list[FixVerdict]:
        """Apply fixes; one verdict each. A fix time outside the window is refused (never recorded)."""
        now = time.time()
        refused = [self.window.verdict(f.at, now) for f in fixes]
        taken = [f for f, r in zip(fixes, refused, strict=True) if r is None]
        recorded = iter(await self._live.record_fixes(taken, ceiling=now + self.window.ahead_s))
        verdicts = [r if r is not None else next(recorded) for r in refused]
        for fix, verdict in zip(fixes, verdicts, strict=True):
            if verdict in ("ok", "suspect"):
                self._pending.append((fix, verdict == "suspect"))
            if verdict == "ok":
                self.moved[fix.unit_id] = fix
        return [FixVerdict(f.unit_id, v) for f, v in zip(fixes, verdicts, strict=True)]

    async def report_strict(self, fix: Fix) -> FixVerdict:
        """One fix from one client that hears the answer: a refused time is an error naming ``at``."""
        self.window.refuse(fix, time.time())
        [verdict] = await self.report([fix])
        return verdict

    async def report_one(self, fix: Fix) -> FixVerdict:
        """One fix from one of many sockets: fixes arriving within a couple of milliseconds go to Redis
        together in one script call, which is what lets thousands of unit sockets report at once. A
        refused time raises :class:`Invalid` naming ``at``."""
        self.window.refuse(fix, time.time())
        done: asyncio.Future[FixVerdict] = asyncio.get_running_loop().create_future()
        self._gathering.append((fix, done))
        if len(self._gathering) == 1:  # the first of a batch sends it, in a task of its own so that a
            # socket closing meanwhile does not strand the others
            task = asyncio.create_task(self._send_gathered(), name="positions-batch")
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        return await done

    async def _send_gathered(self) -> None:
        await asyncio.sleep(self._gather_s)
        batch, self._gathering = self._gathering, []
        try:
            verdicts = await self.report([fix for fix, _ in batch])
        except Exception as exc:  # every waiting socket hears of it
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), verdict in zip(batch, verdicts, strict=True):
            if not done.done():
                done.set_result(verdict)

    def take_moved(self) -> dict[int, Fix]:
        moved, self.moved = self.moved, {}
        return moved

    async def broadcast(self, feed: Feed, tick_s: float) -> None:
        """Once a tick, each unit that moved is on the feed once, at its latest position: screens need
        no more, and a burst of fixes cannot flood them. Status changes are events of their own and are
        never coalesced."""
        while True:
            await asyncio.sleep(tick_s)
            moved = self.take_moved()
            if not moved:
                continue
            positions = [
                {"unit_id": f.unit_id, "lat": f.lat, "lon": f.lon, "at": _iso(f.at), "speed_mps": f.speed_mps,
                 "heading": f.heading}
                for f in moved.values()
            ]  # fmt: skip
            try:
                await feed.publish([{"kind": UNITS_MOVED, "at": _iso(time.time()), "positions": positions}])
            except (RedisError, OSError):
                log.warning("position updates for screens not published; the next tick carries them")
                for unit_id, fix in moved.items():
                    self.moved.setdefault(unit_id, fix)

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
        # per unit: the newest trusted fix moves it; whether the newest fix of all was suspect flags it
        trusted: dict[int, Fix] = {}
        newest: dict[int, tuple[Fix, bool]] = {}
        for fix, suspect in batch:
            if not suspect and (fix.unit_id not in trusted or trusted[fix.unit_id].at < fix.at):
                trusted[fix.unit_id] = fix
            if fix.unit_id not in newest or newest[fix.unit_id][0].at < fix.at:
                newest[fix.unit_id] = (fix, suspect)
        latest = [
            (unit_id, trusted.get(unit_id), suspect, datetime.fromtimestamp(fix.at, UTC))
            for unit_id, (fix, suspect) in newest.items()
        ]
        try:
            await self._write(rows, latest)
        except BaseException:
            self._pending[:0] = batch  # keep the fixes for the next flush
            raise
        return len(rows)

    async def _write(
        self, rows: Sequence[tuple[object, ...]], latest: Sequence[tuple[int, Fix | None, bool, datetime]]
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "positions",
                records=rows,
                columns=["unit_id", "at", "lat", "lon", "accuracy_m", "speed_mps", "heading", "suspect",
                         "received_at"],
            )  # fmt: skip
            await conn.executemany(
                """update units set fix_suspect = $5,
                       lat = case when $4 > coalesce(fix_at, '-infinity') then $2 else lat end,
                       lon = case when $4 > coalesce(fix_at, '-infinity') then $3 else lon end,
                       fix_at = greatest(fix_at, $4)
                   where id = $1 and coalesce(fix_at, '-infinity') < $6""",
                [(u, f and f.lat, f and f.lon, f and datetime.fromtimestamp(f.at, UTC), suspect, newest_at)
                 for u, f, suspect, newest_at in latest],
            )  # fmt: skip

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

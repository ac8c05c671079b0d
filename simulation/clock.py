"""Simulated time: seconds since the start of a run, running ``speed`` times faster than the wall clock.

The demo runs at speed 1. A replay runs faster so that three hours of calls take a minute or two; the
units' position fixes carry simulated times (``epoch``), so that a unit driving at its kind's speed in
simulated time never looks like an implausible jump to the center.
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = speed
        self._wall0 = time.monotonic()
        self.epoch0 = time.time()

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._wall0) * self.speed

    def epoch(self, at: float | None = None) -> float:
        """Epoch seconds of simulated time ``at`` (default now): what a unit's GPS fix says."""
        return self.epoch0 + (self.now() if at is None else at)

    def wall_s(self, sim_s: float) -> float:
        """Wall-clock seconds that ``sim_s`` simulated seconds take."""
        return max(0.0, sim_s) / self.speed

    async def sleep(self, sim_s: float) -> None:
        await asyncio.sleep(self.wall_s(sim_s))

    async def sleep_until(self, at: float) -> None:
        await asyncio.sleep(self.wall_s(at - self.now()))

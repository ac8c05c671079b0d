"""Which parts of the center one process runs: kept apart from the runtime so that the command line
can decide it without importing the whole center."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Roles:
    """Which parts of the center this process runs."""

    api: bool = True  # HTTP routes, sockets and the feed reader that serves them
    dispatch: bool = True  # dispatcher tasks reading the alert queue
    scheduler: bool = True  # the scheduled jobs: one process of a whole center runs them

    def describe(self) -> str:
        parts = {"API and sockets": self.api, "dispatcher tasks": self.dispatch,
                 "scheduled jobs (reconciler, offer timeouts, pending sweep, case deadlines, live repair, "
                 "history pruning)": self.scheduler}  # fmt: skip
        return ", ".join(name for name, on in parts.items() if on) or "nothing"

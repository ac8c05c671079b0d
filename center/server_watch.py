"""Supervision of the embedded servers: a server that dies is reaped, reported and started again.

A watcher thread polls each child process once a second. A server that exited (crashed, killed, out of
memory) is reaped at once, so no zombie is left; its stale pid file is cleared by its own start; it is
started again on the same port, with a growing pause between failed attempts. While it is down it is
listed by :func:`problems`, which ``/readyz`` reports, and every death and restart is logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from center.supervision import backoff_s
from core import metrics

log = logging.getLogger(__name__)

POLL_S = 1.0

_lock = threading.Lock()
_down: dict[str, str] = {}  # embedded servers of this process that are down now, and why
restarts: dict[str, int] = {}


class Server(Protocol):
    name: str

    def exit_code(self) -> int | None: ...  # None while it runs (or was never started)
    def start(self) -> str: ...
    def log_tail(self) -> str: ...


def problems() -> dict[str, str]:
    with _lock:
        return dict(_down)


class ServerWatch:
    """Watches servers from a thread of its own until :meth:`stop`."""

    def __init__(self, servers: list[Server], poll_s: float = POLL_S) -> None:
        self._servers = servers
        self._poll_s = poll_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="embedded-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_s):
            for server in self._servers:
                code = server.exit_code()
                if code is not None:
                    self._revive(server, code)

    def _revive(self, server: Server, code: int) -> None:
        name = f"embedded {server.name}"
        log.error("%s exited with code %s; restarting it. Its log ends with:\n%s", name, code,
                  server.log_tail())  # fmt: skip
        attempt = 0
        while not self._stopping.is_set():
            attempt += 1
            with _lock:
                _down[name] = f"exited with code {code}; restart attempt {attempt}"
                restarts[name] = restarts.get(name, 0) + 1
            metrics.EMBEDDED_RESTARTS.labels(server=server.name).inc()
            try:
                server.start()
            except (OSError, RuntimeError) as exc:
                pause = backoff_s(attempt, first_s=1.0)
                log.error("%s did not restart (%s); next attempt in %.0f s", name, exc, pause)
                self._stopping.wait(pause)
                continue
            with _lock:
                _down.pop(name, None)
            log.warning("%s restarted (attempt %d)", name, attempt)
            return

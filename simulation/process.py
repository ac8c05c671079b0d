"""What ``simulate`` starts and owns: the stores (embedded unless URLs are given) and, per run, the real
center as a child process (``dispatch-center up``), its periodic work scaled to the replay's speed."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.clients import parent_death
from bench.control import free_port

HOST = "127.0.0.1"
Say = Callable[[str], None]


class SimulateError(RuntimeError):
    """The replay could not run; the message says why."""


def center_env(urls: tuple[str, str], secret: str, data_dir: Path, speed: float) -> dict[str, str]:
    """The child center's settings: the stores, the secret, every category offered at once (a replay
    has no dispatcher to confirm), and the periodic work that shapes dispatch (the pending sweep) run
    as often in simulated time as it does in real time."""
    return {
        "DISPATCH_REDIS_URL": urls[0], "DISPATCH_DATABASE_URL": urls[1], "DISPATCH_SECRET_KEY": secret,
        "DISPATCH_DATA_DIR": str(data_dir), "DISPATCH_DEMO": "false", "DISPATCH_AUTO_DISPATCH_ALL": "true",
        "DISPATCH_PENDING_SWEEP_EVERY_S": f"{max(3.0 / speed, 0.1):.3f}",
        "DISPATCH_SCREEN_TICK_S": f"{max(1.0 / speed, 0.05):.3f}",
        # nothing a replay takes is ever lost: no need to requeue every few seconds what the greedy run
        # (whose center runs no dispatcher) leaves unhandled on purpose
        "DISPATCH_RECONCILE_EVERY_S": "3600", "DISPATCH_LOG_LEVEL": "WARNING",
        # the units' fixes carry the simulated time, which runs ahead of the center's clock
        "DISPATCH_FIX_MAX_AHEAD_S": str(10 * 365 * 86400),
    }  # fmt: skip


@contextlib.contextmanager
def center_process(env: dict[str, str], dispatch: bool, log_path: Path, say: Say) -> Iterator[int]:
    """The real center on a free port; its port once it is ready. ``dispatch`` false: no dispatcher
    (another policy sends the units through the API)."""
    port = free_port(HOST)
    argv = [sys.executable, "-m", "center.cli", "up", "--host", HOST, "--port", str(port)]
    if not dispatch:
        argv.append("--without-dispatcher")
    with log_path.open("ab") as log:
        # its own session, so that a Ctrl-C reaches only us and we stop it in order; SIGTERM if we die
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=os.environ | env, start_new_session=True,
                                preexec_fn=parent_death(signal.SIGTERM))  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SimulateError(f"the center did not get ready; its log ends with:\n{tail(log_path)}")
            time.sleep(0.1)
        yield port
    finally:
        for sig, grace in ((signal.SIGINT, 20.0), (signal.SIGKILL, 10.0)):
            if proc.poll() is None:
                proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(grace)


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()

"""``dispatch-center bench``: start a real center, load it from client processes, print the figures.

The parent owns everything it starts (embedded stores, the center, the client processes) in one
ExitStack, so Ctrl-C, SIGTERM or an error stops all of it in reverse order.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.clients import Target, parent_death
from bench.control import BenchError, Progress, free_port
from bench.phases import measure
from bench.plan import SECTIONS, Plan
from bench.report import Figure, clock, machine, table, write_json
from center.scratch import scratch_stores
from center.settings import Settings

HOST = "127.0.0.1"


def run_bench(
    settings: Settings, smoke: bool, alerts: int | None = None, *, units: int | None = None,
    rate: float | None = None, clients: int | None = None, json_path: str | Path | None = None,
    only: Sequence[str] = (), screens: int | None = None,
) -> int:  # fmt: skip
    """Measure, print the table, write the JSON file; the exit code."""
    plan = Plan.make(smoke, alerts, units, rate, clients, Path(json_path) if json_path else None, only,
                     screens)  # fmt: skip
    say = Progress()
    started = datetime.now(UTC)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    busy = load is not None and load > 0.5 * (os.cpu_count() or 1)
    if busy:
        say(f"WARNING: the machine is busy (load average {load:.1f}): figures will be lower than it can do")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        figures, details, stored = _run(settings, plan, say)
    except KeyboardInterrupt:
        print("bench interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    run = {
        "started": started.isoformat(), "duration_s": round(clock() - say.start, 1), "smoke": plan.smoke,
        "units": plan.units, "alerts": plan.alerts, "warmup_alerts": plan.warmup, "rate_per_s": plan.rate,
        "clients": plan.clients, "intake_alerts": plan.intake, "fixes": plan.fix_batches * 1000,
        "sections": sorted(plan.sections), "ws_position_seconds": plan.ws_seconds,
        "search_units": plan.search_units, "searches": plan.searches, "screens": plan.screens,
        "screen_alerts": plan.screen_alerts, "screen_rate_per_s": plan.screen_rate,
        "socket_processes": plan.socket_processes,
        "stores": stored, "center": "one process: dispatch-center up", "load_average_at_start": load,
        **details,
    }  # fmt: skip
    if busy:
        details["notes"].append(f"the machine was busy at the start (load average {load:.1f})")
    print(_headline(plan, stored))
    print(table(figures))
    print("ratio: figure / this run's limit; for [limit] rows: this machine / the reference machine")
    for note in details["notes"]:
        print(f"note: {note}")
    write_json(plan.json_path, run, figures)
    print(f"results: {plan.json_path}")
    missing = _missing(plan, figures)
    for name in missing:
        print(f"bench incomplete: no measurement for {name}", file=sys.stderr)
    return 1 if missing else 0


def _interrupt(signum: int, frame: FrameType | None) -> Any:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C: everything started is stopped


# the figure each section must have measured, and which of its fields
_KEY_FIGURES = {
    "latency": ("alert_to_offer", "p99_ms"), "positions": ("position_updates_ws", "value"),
    "search": ("nearest_search", "p99_ms"), "ops": ("wall_screens", "p99_ms"), "intake": ("intake", "value"),
    "roads": ("road_eta_2000_shipped", "p99_ms"),
    "reports": ("report_response_by_category", "value"),
}  # fmt: skip


def _missing(plan: Plan, figures: list[Figure]) -> list[str]:
    """The key figures of this run's sections that came out empty."""
    by_name = {f.name: f for f in figures}
    wanted = [_KEY_FIGURES[s] for s in sorted(plan.sections)]
    return [name for name, field in wanted if name not in by_name or getattr(by_name[name], field) is None]


def _headline(plan: Plan, stored: str) -> str:
    m = machine()
    only = "" if len(plan.sections) == len(SECTIONS) else f"sections: {', '.join(sorted(plan.sections))}; "
    return (
        f"\n{only}{plan.units:,} units on /ws/unit (design: 10,000), {plan.alerts} alerts at {plan.rate:g}/s "
        f"(design: 200/s); stores: {stored}\nmachine: {m['cpu_count']} CPUs, {m['cpu_model']}, "
        f"{m['memory_mb']:,} MB, Python {m['python']}\n"
    )


def _run(settings: Settings, plan: Plan, say: Progress) -> tuple[list[Figure], dict[str, Any], str]:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-bench-")))
        # a folder of throw-away data: PostgreSQL, run as its own user under root, may then use it
        work.chmod(0o755)
        stored = "given by DISPATCH_*_URL" if settings.redis_url and settings.database_url else "embedded"
        urls = stack.enter_context(scratch_stores(
            settings, work, say, "the bench writes units, alerts and incidents into those servers"
        ))  # fmt: skip
        secret = secrets.token_urlsafe(48)
        running = stack.enter_context(center(urls, secret, work, say))
        try:
            figures, details = measure(plan, Target(HOST, running.port, secret), *urls, running.proc.pid,
                                       say, stack)  # fmt: skip
        except BenchError:
            say(f"the center's log ends with:\n{_tail(running.log_path)}")
            raise
        say("done measuring; stopping the clients, the center and the stores")
    return figures, details, stored


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@dataclass(frozen=True)
class Center:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path


@contextlib.contextmanager
def center(urls: tuple[str, str], secret: str, work: Path, say: Progress) -> Iterator[Center]:
    """The real center (``dispatch-center up``) as a child process, ready when this yields."""
    port = free_port(HOST)
    env = os.environ | {"DISPATCH_REDIS_URL": urls[0], "DISPATCH_DATABASE_URL": urls[1],
                        "DISPATCH_SECRET_KEY": secret, "DISPATCH_DATA_DIR": str(work / "center")}  # fmt: skip
    log_path = work / "center.log"
    argv = [sys.executable, "-m", "center.cli", "up", "--host", HOST, "--port", str(port)]
    say(f"starting the center on port {port}")
    with log_path.open("wb") as log:
        # its own session: a Ctrl-C in the terminal reaches the bench, which stops the center in order;
        # SIGTERM (a graceful stop for `up`) if the bench itself is killed
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=parent_death(signal.SIGTERM))  # fmt: skip
    try:
        deadline = clock() + 90
        while not _ready(port):
            if proc.poll() is not None or clock() > deadline:
                raise BenchError(f"the center did not get ready; its log ends with:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield Center(proc, port, log_path)
    finally:
        for sig, grace in ((signal.SIGINT, 20.0), (signal.SIGKILL, 10.0)):
            if proc.poll() is None:
                proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(grace)


def _ready(port: int) -> bool:
    # http.client rather than urllib: no proxy from the environment may stand between us and 127.0.0.1
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()

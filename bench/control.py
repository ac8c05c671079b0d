"""Running the bench's own processes: progress lines, client processes and their results."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.clients import Signals
from bench.report import clock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def memory_mb(pid: int) -> dict[str, float]:
    """Peak and current resident memory of one process, from /proc (empty where there is none)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0]) / 1024
    return found


class BenchError(RuntimeError):
    """The bench could not measure; the message says what went wrong."""


class Progress:
    """Short lines on stderr with the time since the start."""

    def __init__(self) -> None:
        self.start = clock()

    def __call__(self, message: str) -> None:
        print(f"[bench {clock() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)

    def wait(
        self, label: str, current: Callable[[], str], done: Callable[[], bool], timeout: float,
        fatal: bool = True,
    ) -> bool:  # fmt: skip
        """Poll ``done`` with a progress line every 2 s; at the deadline fail, or return False."""
        deadline, shown = clock() + timeout, clock()
        while not done():
            if clock() > deadline:
                if fatal:
                    raise BenchError(f"{label}: gave up after {timeout:.0f} s at {current()}")
                self(f"  {label}: stopped waiting after {timeout:.0f} s at {current()}")
                return False
            if clock() - shown >= 2:
                self(f"  {label}: {current()}")
                shown = clock()
            time.sleep(0.05)
        return True


class Child:
    """One client process (spawned: no state inherited from this one) and its result."""

    def __init__(self, main: Callable[[Any, Signals], None], plan: object) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.sig = Signals(
            ctx.Value("q", 0), ctx.Value("q", 0), ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Event()
        )
        self.proc = ctx.Process(target=main, args=(plan, self.sig), name=main.__name__, daemon=True)
        self._answer: tuple[str, Any] | None = None

    def start(self, stack: contextlib.ExitStack) -> Child:
        self.proc.start()
        stack.callback(self.kill)
        return self

    def finished(self) -> bool:
        """Whether the child answered; its answer is read before any join, as the pipe is finite."""
        if self._answer is None:
            alive = self.proc.is_alive()  # asked first: a child flushes its answer before it exits
            with contextlib.suppress(queue.Empty):
                self._answer = self.sig.results.get(timeout=0.01 if alive else 1.0)
            if self._answer is None and not alive:
                raise BenchError(f"client process {self.proc.name} died (exit code {self.proc.exitcode})")
        return self._answer is not None

    def result(self) -> dict[str, Any]:
        assert self._answer is not None
        status, value = self._answer
        if status != "ok":
            raise BenchError(f"client process {self.proc.name} failed:\n{value}")
        self.proc.join(10)
        result: dict[str, Any] = value
        return result

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


class Group:
    """Client processes that share one load (sockets split between them): started, readied, let go and
    stopped together; their counters add up."""

    def __init__(self, main: Callable[[Any, Signals], None], plans: list[Any]) -> None:
        self.children = [Child(main, plan) for plan in plans]

    def start(self, stack: contextlib.ExitStack) -> Group:
        for child in self.children:
            child.start(stack)
        return self

    def done(self) -> int:
        return sum(c.sig.done.value for c in self.children)

    def seen(self) -> int:
        return sum(c.sig.seen.value for c in self.children)

    def ready(self) -> bool:
        """All ready; raises when one ended before it was."""
        for child in self.children:
            if not child.sig.ready.is_set() and child.finished():
                child.result()  # raises the child's error
                raise BenchError(f"client process {child.proc.name} ended before it was ready")
        return all(c.sig.ready.is_set() for c in self.children)

    def finished(self) -> bool:
        return all(c.finished() for c in self.children)

    def go(self) -> None:
        for child in self.children:
            child.sig.go.set()

    def stop(self) -> None:
        for child in self.children:
            child.sig.stop.set()

    def results(self) -> list[dict[str, Any]]:
        return [c.result() for c in self.children]


def run_child(
    say: Progress, stack: contextlib.ExitStack, label: str, main: Callable[[Any, Signals], None],
    plan: object, total: int, timeout: float, meter: CpuMeter,
) -> dict[str, Any]:  # fmt: skip
    """Start a client process, show its progress, return its result; ``meter`` times its load."""
    child = Child(main, plan).start(stack)
    progress = lambda: f"{child.sig.done.value}/{total or '?'}"  # noqa: E731
    say.wait(label, progress, lambda: child.sig.ready.is_set() or child.finished(), 60)
    with meter.measure(label):
        say.wait(label, progress, child.finished, timeout)
    return child.result()


class CpuMeter:
    """The share of one core a process (the center) used during each phase: near 1.0 means saturated."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.shares: dict[str, float] = {}
        self.seconds: dict[str, float] = {}  # CPU seconds used in each phase
        self.wall: dict[str, float] = {}  # how long each phase took

    def cpu_seconds(self) -> float | None:
        """User and system CPU time from /proc (None where there is none)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @contextlib.contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        before, start = self.cpu_seconds(), clock()
        yield
        after = self.cpu_seconds()
        if before is not None and after is not None:
            self.shares[phase] = round((after - before) / (clock() - start), 2)
            self.seconds[phase] = after - before
            self.wall[phase] = clock() - start

"""Supervision: a crashed background task is restarted with backoff and shown on /readyz while down; a
failing job is shown until it runs again; a dead embedded server is reaped and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import REGISTRY

from center import server_watch
from center.embedded import EmbeddedServers
from center.server_watch import ServerWatch
from center.supervision import Tasks, backoff_s
from tests.conftest import Stores, center_settings, serving, wipe

WAIT_S = 30.0


def test_backoff_doubles_up_to_its_cap() -> None:
    """The pause before each restart doubles and never exceeds the cap."""
    assert [backoff_s(n, 0.5, 4.0) for n in (1, 2, 3, 4, 5, 50)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


async def test_a_crashed_task_is_restarted_and_listed_as_down_meanwhile() -> None:
    """A task that crashes twice runs a third time; while it waits it is listed with its reason."""
    runs: list[float] = []
    seen_down: list[dict[str, str]] = []
    tasks = Tasks()
    counted = REGISTRY.get_sample_value("dispatch_task_restarts_total", {"task": "flaky"}) or 0.0

    async def flaky() -> None:
        runs.append(time.monotonic())
        if len(runs) <= 2:
            raise ValueError(f"bad value number {len(runs)}")

    async def watch() -> None:
        while len(runs) < 3:
            if down := tasks.problems():
                seen_down.append(down)
            await asyncio.sleep(0.01)

    tasks.start("flaky", flaky)
    await asyncio.wait_for(watch(), WAIT_S)
    await tasks.stop()
    assert len(runs) == 3
    assert tasks.failures.restarts == {"flaky": 2}
    assert REGISTRY.get_sample_value("dispatch_task_restarts_total", {"task": "flaky"}) == counted + 2
    assert any("ValueError: bad value number 1" in d.get("flaky", "") for d in seen_down), seen_down
    assert runs[2] - runs[1] >= runs[1] - runs[0]  # the pause grows
    assert tasks.problems() == {}  # it ended well


async def test_readyz_names_a_failing_job_until_it_runs_again(stores: Stores, tmp_path: Path) -> None:
    """The case-deadline job meets a missing table: /readyz is 503 naming it, then 200 once it is back."""
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path, case_check_every_s=0.3)
    async with serving(settings) as center, center.client(None) as probe:
        assert (await probe.get("/readyz")).status_code == 200
        db = await asyncpg.connect(stores.database_url)
        try:
            await db.execute("alter table grid_cases rename to grid_cases_away")
            deadline = time.monotonic() + WAIT_S
            while (reply := await probe.get("/readyz")).status_code == 200:
                assert time.monotonic() < deadline, "a failing job never showed on /readyz"
                await asyncio.sleep(0.1)
            assert reply.status_code == 503
            assert "job case-deadlines" in reply.json()["checks"], reply.text
            await db.execute("alter table grid_cases_away rename to grid_cases")
            while (reply := await probe.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline + WAIT_S, reply.text
                await asyncio.sleep(0.1)
        finally:
            await db.close()


def _state(pid: int) -> str | None:
    """The process state letter (Z: a zombie nobody reaped), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _answers(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split("@")[-1].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.timeout(180)
def test_killed_embedded_servers_are_reaped_and_restarted_on_their_port(tmp_path: Path) -> None:
    """SIGKILL each embedded server: no zombie is left, it comes back on the same URL, and counts."""
    before = dict(server_watch.restarts)
    metric = "dispatch_embedded_server_restarts_total"
    counted = {n: REGISTRY.get_sample_value(metric, {"server": n}) or 0.0 for n in ("valkey", "postgresql")}
    servers = EmbeddedServers(tmp_path)
    with servers as urls:
        for server, url in zip((servers.redis, servers.postgres), urls, strict=True):
            old = server.pid()
            name = f"embedded {server.name}"
            os.kill(old, signal.SIGKILL)
            deadline = time.monotonic() + 60
            # back when it answers and the watch has seen its start through (it may answer a moment
            # before the watch's own start returns, longer on a busy machine)
            while server.pid() == old or not _answers(url) or name in server_watch.problems():
                assert time.monotonic() < deadline, f"not back: {server_watch.problems()}"
                time.sleep(0.1)
            assert _state(old) in (None, "X"), f"the dead {server.name} was left a zombie"
            assert server_watch.restarts.get(name, 0) == before.get(name, 0) + 1
            assert REGISTRY.get_sample_value(metric, {"server": server.name}) == counted[server.name] + 1


class RefusingServer:
    """A real child process that refuses to start again the first ``refusals`` times."""

    name = "sleeper"

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.proc = subprocess.Popen(["sleep", "600"])

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def start(self) -> str:
        if self.refusals:
            self.refusals -= 1
            raise RuntimeError("port taken")
        self.proc = subprocess.Popen(["sleep", "600"])
        return "sleeper://"

    def log_tail(self) -> str:
        return ""


def test_a_server_that_cannot_restart_stays_listed_until_it_does() -> None:
    """While restarts fail, problems() names the server; once one succeeds, it is gone from the list."""
    server = RefusingServer(refusals=2)
    watch = ServerWatch([server], poll_s=0.05)
    watch.start()
    try:
        server.proc.kill()
        deadline = time.monotonic() + WAIT_S
        while "embedded sleeper" not in server_watch.problems():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert "restart attempt" in server_watch.problems()["embedded sleeper"]
        while server.refusals or "embedded sleeper" in server_watch.problems():
            assert time.monotonic() < deadline + WAIT_S
            time.sleep(0.05)
        assert server.exit_code() is None  # running again
    finally:
        watch.stop()
        server.proc.kill()
        server.proc.wait()

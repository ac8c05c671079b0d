"""What most tests do with a running center: add a unit (optionally placed on the map), take a call,
open a unit's or a screen's socket past its first frame, and wait for something to become true; and
run the command line with a module missing. Fixtures and the center itself live in conftest.py."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.roles import Role
from tests.conftest import Center, receive

WAIT_S = 30.0  # generous: a loaded machine is slow, never wrong

T = TypeVar("T")


async def add_unit(
    center: Center,
    callsign: str,
    kind: str = "patrol_car",
    status: str | None = None,
    at: tuple[float, float] | None = None,
) -> int:
    """Register a unit as the admin (the center's default status unless ``status``) and return its id;
    with ``at``, the unit then reports a fix there, taken as its position."""
    body = {"callsign": callsign, "kind": kind} | ({"status": status} if status else {})
    async with center.client(Role.ADMIN) as admin:
        reply = await admin.post("/api/v1/units", json=body)
        assert reply.status_code == 201, reply.text
        unit_id: int = reply.json()["id"]
    if at is not None:
        async with center.client(Role.UNIT, unit_id) as unit:
            fix = await unit.put(
                f"/api/v1/units/{unit_id}/location", json={"lat": at[0], "lon": at[1], "at": time.time()}
            )
            assert fix.status_code == 200 and fix.json()["verdict"] == "ok", fix.text
    return unit_id


async def post_alert(
    center: Center, at: tuple[float, float], category: str = "robbery_in_progress"
) -> dict[str, Any]:
    """A call taker's 110 call at ``at``, accepted (202): the answer."""
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post(
            "/api/v1/alerts",
            json={"channel": "110", "category": category, "location": {"lat": at[0], "lon": at[1]}},
        )
    assert reply.status_code == 202, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def cli_without(module: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command line in a child process where ``module`` cannot be imported (an install that left
    an extra out), with only these DISPATCH_* variables."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | env
    code = (
        f"import sys; sys.modules[{module!r}] = None; from center.cli import main; sys.exit(main({argv!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=child_env, capture_output=True, text=True, timeout=60
    )


async def unit_socket(center: Center, unit_id: int, within_s: float = WAIT_S) -> Any:
    """The unit's socket, authenticated, its ``hello`` read."""
    ws = await center.socket("/ws/unit", Role.UNIT, unit_id)
    assert (await receive(ws, within_s))["type"] == "hello"
    return ws


async def ops_socket(center: Center, role: Role = Role.DISPATCHER, within_s: float = WAIT_S) -> Any:
    """A screen's socket, authenticated, its ``snapshot`` read."""
    ws = await center.socket("/ws/ops", role)
    assert (await receive(ws, within_s))["type"] == "snapshot"
    return ws


async def wait_until(
    probe: Callable[[], T | Awaitable[T]], within_s: float = WAIT_S, every_s: float = 0.05
) -> T:
    """Call ``probe`` (plain or async) until it returns something true and return that; fail with the
    last answer if that takes longer than ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        answer = probe()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        assert time.monotonic() < deadline, f"not true within {within_s} s: {answer!r}"
        await asyncio.sleep(every_s)

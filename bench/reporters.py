"""Position updates over WebSockets: many unit sockets in one client process, each sending position
messages on /ws/unit and waiting for each answer before the next (one message in flight per socket).

The center allows a unit 20 messages a second; each socket here sends at most ``per_socket_rate``, so
that with enough sockets the center, not its rate limit, decides the figure. At most ``in_flight``
messages of a process are unanswered at a time: enough to keep one center process busy, and a bound a
real fleet keeps too (10,000 units every 5 s at a few ms each is a handful in flight). Every process
of a group starts sending when the parent says go and stops ``seconds`` later. A socket the center
closes is counted and left; the others go on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from bench.clients import Signals, Target, bump, run_in_child, text, until
from bench.report import clock
from core.roles import Role

SPREAD_DEG = 2e-4  # a few tens of metres around home: moving, never an implausible jump


@dataclass(frozen=True)
class ReportPlan:
    target: Target
    units: list[tuple[int, float, float]]  # unit id, home lat, home lon
    seconds: float
    per_socket_rate: float = 18.0  # 0: as fast as the answers come
    in_flight: int = 32
    path: str = "/ws/unit"
    connect_at_once: int = 50


def reporters_main(plan: ReportPlan, sig: Signals) -> None:
    run_in_child(_report, plan, sig)


async def _report(plan: ReportPlan, sig: Signals) -> dict[str, Any]:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://{plan.target.host}:{plan.target.port}{plan.path}"
    gate = asyncio.Semaphore(plan.connect_at_once)
    window = asyncio.Semaphore(plan.in_flight)
    sockets: list[tuple[ClientConnection, int, float, float]] = []
    latencies: list[float] = []
    answers: Counter[str] = Counter()
    errors: list[str] = []

    async def open_one(unit_id: int, lat: float, lon: float) -> None:
        async with gate:
            ws = await connect(url, open_timeout=60, max_size=1 << 20)
            await ws.send(text({"type": "auth", "token": plan.target.token(Role.UNIT, unit_id)}))
            hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
            if hello.get("type") != "hello":
                raise RuntimeError(f"unit {unit_id}: expected hello, got {str(hello)[:200]}")
        sockets.append((ws, unit_id, lat, lon))
        bump(sig.done)

    async def report(ws: ClientConnection, unit_id: int, lat: float, lon: float, until_: float) -> None:
        rng = random.Random(unit_id)
        gap = 1 / plan.per_socket_rate if plan.per_socket_rate else 0.0
        last_at = 0.0
        await asyncio.sleep(rng.random() * min(gap, 0.2))  # not every socket in the same instant
        while clock() < until_:
            async with window:
                start = clock()
                last_at = max(time.time(), last_at + 1e-3)  # each fix newer than the one before
                fix = {"type": "position", "lat": lat + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
                       "lon": lon + rng.uniform(-SPREAD_DEG, SPREAD_DEG), "at": last_at}  # fmt: skip
                try:
                    await ws.send(text(fix))
                    while True:  # the answer to this message; a ping or an event may come first
                        m = orjson.loads(await ws.recv())
                        if m.get("type") in ("ack", "error"):
                            break
                except ConnectionClosed as exc:
                    answers["socket closed"] += 1
                    if len(errors) < 10:
                        errors.append(f"unit {unit_id}: socket closed: {exc}")
                    return
                latencies.append((clock() - start) * 1000)
            if m["type"] == "ack":
                answers[str(m.get("verdict"))] += 1
            else:
                answers["error"] += 1
                if len(errors) < 10:
                    errors.append(f"unit {unit_id}: {m.get('reason')}")
            bump(sig.seen)
            if gap and (wait := start + gap - clock()) > 0:
                await asyncio.sleep(wait)

    await asyncio.gather(*(open_one(*u) for u in plan.units))
    sig.ready.set()
    await until(sig.go)
    start, cpu = clock(), time.process_time()
    await asyncio.gather(*(report(*s, start + plan.seconds) for s in sockets))
    finished = clock()
    client_cpu = (time.process_time() - cpu) / (finished - start)
    await asyncio.gather(*(asyncio.wait_for(s[0].close(), 5) for s in sockets), return_exceptions=True)
    return {
        "latencies_ms": latencies, "answers": dict(answers), "errors": errors, "started": start,
        "finished": finished, "sockets": len(sockets), "client_cpu": client_cpu,
    }  # fmt: skip

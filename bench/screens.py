"""Wall screens: many /ws/ops sockets in one client process, each noting when each event arrived.

A socket authenticates with a display token, takes its snapshot, then listens. For every event of
``kind`` it notes the arrival of the first one per incident id, on the machine-wide clock (see
``report.clock``); the parent subtracts the moment the event was caused (the request that caused it,
taken in another process). Opening is gated: the center builds a snapshot for each new socket.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from bench.clients import Signals, bump, run_in_child, text, until
from bench.report import clock


@dataclass(frozen=True)
class ScreenPlan:
    url: str  # ws://host:port/ws/ops
    token: str
    sockets: int
    kind: str  # the event kind that is measured ("incident.created" for alerts)
    connect_at_once: int = 20


def screens_main(plan: ScreenPlan, sig: Signals) -> None:
    run_in_child(_screens, plan, sig)


async def _screens(plan: ScreenPlan, sig: Signals) -> dict[str, Any]:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    gate = asyncio.Semaphore(plan.connect_at_once)
    sockets: list[ClientConnection] = []
    arrivals: defaultdict[int, list[float]] = defaultdict(list)  # incident id -> arrival on each socket
    counts: Counter[str] = Counter()
    opening: list[float] = []

    async def open_one() -> None:
        async with gate:
            start = clock()
            # a snapshot holds every unit and open incident: no small frame limit on this side
            ws = await connect(plan.url, open_timeout=120, max_size=None)
            await ws.send(text({"type": "auth", "token": plan.token}))
            first = await asyncio.wait_for(ws.recv(), 120)
            head = first[:40] if isinstance(first, str) else first[:40].decode(errors="replace")
            if '"type":"snapshot"' not in head:
                raise RuntimeError(f"expected a snapshot first, got {head!r}")
            opening.append((clock() - start) * 1000)
        counts["snapshot_bytes"] += len(first)
        sockets.append(ws)
        bump(sig.done)

    async def listen(ws: ClientConnection) -> None:
        mine: set[int] = set()
        try:
            async for raw in ws:
                at = clock()  # first thing: parsing is client work, not the center's latency
                m = orjson.loads(raw)
                kind = m.get("type")
                if kind == "event":
                    counts["events"] += 1
                    incident = m.get("incident_id")
                    if m.get("kind") == plan.kind and isinstance(incident, int) and incident not in mine:
                        mine.add(incident)
                        arrivals[incident].append(at)
                        bump(sig.seen)
                else:
                    counts[str(kind)] += 1  # a "snapshot" here is a resync: this socket fell behind
        except ConnectionClosed:
            if not sig.stop.is_set():
                counts["dropped"] += 1

    await asyncio.gather(*(open_one() for _ in range(plan.sockets)))
    sig.ready.set()
    tasks = [asyncio.create_task(listen(ws), name=f"screen-{n}") for n, ws in enumerate(sockets)]
    await until(sig.stop)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(asyncio.wait_for(ws.close(), 5) for ws in sockets), return_exceptions=True)
    return {"arrivals": dict(arrivals), "counts": dict(counts), "connected": len(sockets),
            "opening_ms": opening}  # fmt: skip

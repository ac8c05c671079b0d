"""A no-op WebSocket server on the center's own stack (uvicorn and Starlette), for machine limits.

It speaks just enough of the center's socket protocol for the bench's clients: the first message is
taken as authentication without a check; ``/ws/unit`` answers every message with an ack (an echo
rate), ``/ws/ops`` sends a tiny snapshot and then, once ``clients`` screens are connected and the
parent says go, broadcasts events straight to every socket (no hub, no queues, no Redis): first
``events`` at ``rate`` (a latency), then a ``burst`` back to back (a rate). Each event carries an
``incident_id`` so that the clients record it like the center's deltas; the server notes when it
started sending each one, on the machine-wide clock the clients read too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any

from bench.clients import Signals, bump, run_in_child, until
from bench.control import memory_mb
from bench.report import clock


@dataclass(frozen=True)
class NoopPlan:
    host: str
    port: int
    clients: int = 0  # /ws/ops screens to wait for before broadcasting
    events: int = 0
    rate: float = 5.0
    burst: int = 0


def noop_main(plan: NoopPlan, sig: Signals) -> None:
    run_in_child(_serve, plan, sig)


def rss_mb() -> float | None:
    """This process's resident memory."""
    return memory_mb(os.getpid()).get("VmRSS")


async def _serve(plan: NoopPlan, sig: Signals) -> dict[str, Any]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    screens: set[WebSocket] = set()
    all_in = asyncio.Event()

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        with contextlib.suppress(WebSocketDisconnect):
            await ws.receive_text()
            await ws.send_text('{"type":"hello"}')
            while True:
                await ws.receive_text()
                await ws.send_text('{"type":"ack","verdict":"ok"}')

    async def screen(ws: WebSocket) -> None:
        await ws.accept()
        with contextlib.suppress(WebSocketDisconnect):
            await ws.receive_text()
            await ws.send_text('{"type":"snapshot","seq":0,"state":{}}')
            screens.add(ws)
            if len(screens) >= plan.clients:
                all_in.set()
            try:
                while True:
                    await ws.receive_text()
            finally:
                screens.discard(ws)

    async def broadcast(seq: int) -> None:
        data = f'{{"type":"event","seq":{seq},"kind":"noop","incident_id":{seq}}}'
        for ws in list(screens):
            with contextlib.suppress(Exception):  # a screen gone: the others still get it
                await ws.send_text(data)

    sent: dict[int, float] = {}
    app = Starlette(routes=[WebSocketRoute("/ws/unit", echo), WebSocketRoute("/ws/ops", screen)])
    config = uvicorn.Config(app, host=plan.host, port=plan.port, log_level="warning", lifespan="off",
                            ws_max_size=64 * 1024, ws_ping_interval=20, ws_ping_timeout=20)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(), name="noop-server")
    while not server.started:
        if serving.done():
            serving.result()  # raises why it could not start
            raise RuntimeError("the no-op server stopped before it started")
        await asyncio.sleep(0.02)
    rss: dict[str, float | None] = {"idle": rss_mb()}
    sig.ready.set()
    burst_start = None
    if plan.clients:
        await until(sig.go)  # the parent says go once every screen has its snapshot
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 10)
        await asyncio.sleep(1.0)  # let what opening the sockets allocated settle, as for the center
        rss["connected"] = rss_mb()
        start = clock()
        for seq in range(plan.events):
            if (wait := start + seq / plan.rate - clock()) > 0:
                await asyncio.sleep(wait)
            sent[seq] = clock()
            await broadcast(seq)
            bump(sig.done)
        await asyncio.sleep(0.5)
        burst_start = clock()
        for seq in range(plan.events, plan.events + plan.burst):
            sent[seq] = clock()
            await broadcast(seq)
            bump(sig.done)
    await until(sig.stop)
    server.should_exit = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(serving, 10)
    return {"sent": sent, "burst_start": burst_start, "rss_mb": rss, "screens": plan.clients}

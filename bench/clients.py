"""The load, run in client processes of their own (never inside the center's process).

``fleet``: the units, each on its own /ws/unit socket, reporting a position every few seconds and
accepting, arriving at and clearing every offer (so they become available again). ``stream``: alerts at
a steady rate. ``burst``: as many requests as N keep-alive connections get through. Each child reports
one result on its queue; the parent owns the children and stops them.

Alert -> offer spans two processes: the sender notes when each 202 arrived, the fleet when each offer
arrived, both keyed by incident id and both read from CLOCK_MONOTONIC (see ``report.clock``), which on
Linux is one counter for the whole machine; the parent subtracts. Separate processes keep one side's
busy moments (a thousand sockets, or a burst of sends) from delaying the other side's timestamps.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any, TypeVar

import orjson

from bench.keepalive import KeepAlive, run_loop
from bench.report import clock
from core.roles import Role
from core.tokens import TokenSigner

P = TypeVar("P")
STEPS = ("accept", "arrive", "clear")  # what a unit does with every offer
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    secret: str

    def token(self, role: Role, unit_id: int | None = None) -> str:
        return TokenSigner(self.secret, 6 * 3600).issue(role, f"bench-{role.value}", unit_id=unit_id)

    def client(self, role: Role) -> KeepAlive:
        return KeepAlive(self.host, self.port, self.token(role))


@dataclass
class Signals:
    """How a child and the parent talk: two counters for progress, three events, one result."""

    done: Synchronized[int]
    seen: Synchronized[int]
    ready: Event
    stop: Event
    results: Queue[Any]
    go: Event  # for children that start their load together, when the parent says so


def text(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def bump(counter: Synchronized[int]) -> None:
    with counter.get_lock():
        counter.value += 1


async def until(event: Event) -> None:
    """Wait for a multiprocessing event without blocking the loop."""
    await asyncio.get_running_loop().run_in_executor(None, event.wait)


def parent_death(sig: int, parent: int | None = None) -> Callable[[], None]:
    """What a child runs first (or as a preexec_fn) so that Linux sends it ``sig`` when the bench dies,
    even by SIGKILL: nothing the bench starts outlives it. Elsewhere it does nothing."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before a fork, not in the child
    parent = os.getpid() if parent is None else parent

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the bench died before this was armed
            os._exit(1)

    return arm


def run_in_child(
    work: Callable[[P, Signals], Coroutine[Any, Any, dict[str, Any]]], plan: P, sig: Signals
) -> None:
    parent_death(signal.SIGTERM, parent=os.getppid())()
    # Ctrl-C reaches the whole process group; the parent decides when a child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sig.results.put(("ok", run_loop(work(plan, sig))))
    except Exception:
        sig.results.put(("error", traceback.format_exc()))


# -- the units ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetPlan:
    target: Target
    units: list[tuple[int, float, float]]  # unit id, home lat, home lon
    report_every_s: float = 5.0
    connect_at_once: int = 50


def fleet_main(plan: FleetPlan, sig: Signals) -> None:
    run_in_child(_fleet, plan, sig)


async def _fleet(plan: FleetPlan, sig: Signals) -> dict[str, Any]:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://{plan.target.host}:{plan.target.port}/ws/unit"
    offers: dict[int, tuple[float, int]] = {}  # incident id -> (clock at the offer, unit id)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    sockets: list[tuple[ClientConnection, int, float, float]] = []
    gate = asyncio.Semaphore(plan.connect_at_once)  # the server's accept backlog is finite

    async def open_one(unit_id: int, lat: float, lon: float) -> None:
        async with gate:
            ws = await connect(url, open_timeout=60, max_size=1 << 20)
            token = plan.target.token(Role.UNIT, unit_id)
            await ws.send(text({"type": "auth", "token": token}))
            hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
            if hello.get("type") != "hello":
                raise RuntimeError(f"unit {unit_id}: expected hello, got {hello}")
        sockets.append((ws, unit_id, lat, lon))
        bump(sig.done)

    async def listen(ws: ClientConnection, unit_id: int) -> None:
        try:
            async for raw in ws:
                at = clock()  # first thing: parsing is client work, not the center's latency
                m = orjson.loads(raw)
                kind = m.get("type")
                if kind == "event" and m.get("kind") == "assignment.offered":
                    offers.setdefault(m["incident_id"], (at, unit_id))
                    bump(sig.seen)
                    for step in STEPS:  # the center handles a socket's messages in order
                        await ws.send(text({"type": step, "assignment_id": m["assignment_id"]}))
                elif kind in ("ack", "error"):
                    counts[kind + "s"] += 1
                    if kind == "error" and len(errors) < 20:
                        errors.append(f"unit {unit_id}: {m.get('reason')}")
        except ConnectionClosed:
            pass
        if not sig.stop.is_set():
            counts["dropped"] += 1

    async def report(ws: ClientConnection, unit_id: int, lat: float, lon: float) -> None:
        rng = random.Random(unit_id)
        await asyncio.sleep(rng.random() * plan.report_every_s)  # spread the fleet over the period
        while True:
            # a few tens of metres around home: moving, but never an implausible jump
            fix = {"type": "position", "lat": lat + rng.uniform(-2e-4, 2e-4),
                   "lon": lon + rng.uniform(-2e-4, 2e-4), "at": time.time()}  # fmt: skip
            await ws.send(text(fix))
            counts["positions"] += 1
            await asyncio.sleep(plan.report_every_s)

    await asyncio.gather(*(open_one(*u) for u in plan.units))
    sig.ready.set()
    tasks = [asyncio.create_task(listen(ws, u), name=f"listen-{u}") for ws, u, _, _ in sockets]
    tasks += [asyncio.create_task(report(*s), name=f"report-{s[1]}") for s in sockets]
    await until(sig.stop)  # the parent says when
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(asyncio.wait_for(s[0].close(), 5) for s in sockets), return_exceptions=True)
    return {"offers": offers, "counts": dict(counts), "errors": errors, "connected": len(sockets)}


# -- alerts at a steady rate -------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamPlan:
    target: Target
    bodies: list[bytes]  # one alert each, sent in this order
    rate: float
    connections: int


def stream_main(plan: StreamPlan, sig: Signals) -> None:
    run_in_child(_stream, plan, sig)


async def _stream(plan: StreamPlan, sig: Signals) -> dict[str, Any]:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    due = [0.0] * len(plan.bodies)
    records: list[dict[str, Any]] = []

    async def send(client: KeepAlive) -> None:
        while (i := await queue.get()) is not None:
            record: dict[str, Any] = {"i": i, "due": due[i], "sent": clock()}
            try:
                status, body = await client.request("POST", "/api/v1/alerts", plan.bodies[i])
            except (OSError, asyncio.IncompleteReadError) as exc:
                status, body = 0, str(exc).encode()
            record |= {"answered": clock(), "http": status}  # the 202 arrived: "alert accepted"
            if status == 202:
                answer = orjson.loads(body)
                record |= {"incident": answer["incident_id"], "linked": answer["status"] == "linked"}
            else:
                record["error"] = body[:200].decode(errors="replace")
            records.append(record)
            bump(sig.done)

    clients = [plan.target.client(Role.CALL_TAKER) for _ in range(plan.connections)]
    senders = [asyncio.create_task(send(c), name=f"sender-{n}") for n, c in enumerate(clients)]
    sig.ready.set()
    start = clock() + 0.05
    for i in range(len(plan.bodies)):
        due[i] = start + i / plan.rate
        if (wait := due[i] - clock()) > 0:
            await asyncio.sleep(wait)
        queue.put_nowait(i)  # a free connection takes it; lag behind ``due`` means none was free
    for _ in senders:
        queue.put_nowait(None)
    await asyncio.gather(*senders)
    for client in clients:
        await client.close()
    return {"records": records, "started": start, "finished": clock()}


# -- bursts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BurstPlan:
    target: Target
    kind: str  # "noop": GET /healthz; "intake": POST /alerts; "positions": POST /locations batches
    connections: int
    count: int = 0  # requests in all; 0: until ``seconds`` have passed
    seconds: float = 0.0
    places: list[tuple[float, float]] = field(default_factory=list)  # alert places, or unit homes
    unit_ids: list[int] = field(default_factory=list)
    batch: int = 1000  # fixes per positions request
    category: str = "theft"


ROLE = {"noop": None, "intake": Role.CALL_TAKER, "positions": Role.INTEGRATION}


def burst_main(plan: BurstPlan, sig: Signals) -> None:
    run_in_child(_burst, plan, sig)


def _requests(plan: BurstPlan, connection: int) -> Callable[[int], tuple[str, str, bytes | None]]:
    """What request number ``i`` sends on this connection."""
    if plan.kind == "noop":
        return lambda i: ("GET", "/healthz", None)
    if plan.kind == "intake":

        def alert(i: int) -> tuple[str, str, bytes | None]:
            lat, lon = plan.places[i % len(plan.places)]
            body = {"channel": "110", "category": plan.category, "location": {"lat": lat, "lon": lon}}
            return "POST", "/api/v1/alerts", orjson.dumps(body)

        return alert
    # Each connection reports for its own slice of units: its requests run one after another, so a
    # unit's fixes arrive in time order and none is refused as older than the last.
    units = [(u, *home) for u, home in zip(plan.unit_ids, plan.places, strict=True)]
    mine = units[connection :: plan.connections]
    rng = random.Random(connection)
    base, step = time.time(), [0] * len(mine)

    def fixes(i: int) -> tuple[str, str, bytes | None]:
        batch = []
        for n in range(plan.batch):
            k = n % len(mine)
            unit_id, lat, lon = mine[k]
            step[k] += 1
            batch.append({"unit_id": unit_id, "lat": lat + rng.uniform(-2e-4, 2e-4),
                          "lon": lon + rng.uniform(-2e-4, 2e-4), "at": base + step[k] * 1e-3})  # fmt: skip
        return "POST", "/api/v1/locations", orjson.dumps({"fixes": batch})

    return fixes


async def _burst(plan: BurstPlan, sig: Signals) -> dict[str, Any]:
    role = ROLE[plan.kind]
    taken = iter(range(plan.count or 1 << 62))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    items: Counter[str] = Counter()
    sig.ready.set()  # the load starts now: the parent starts its CPU meter on the center
    start, cpu = clock(), time.process_time()
    deadline = start + plan.seconds if plan.seconds else float("inf")

    async def work(connection: int) -> None:
        client = plan.target.client(role) if role else KeepAlive(plan.target.host, plan.target.port)
        make = _requests(plan, connection)
        for i in taken:
            if clock() > deadline:
                break
            method, path, body = make(i)
            sent = clock()
            try:
                status, answer = await client.request(method, path, body)
            except (OSError, asyncio.IncompleteReadError):
                status, answer = 0, b""
            latencies.append((clock() - sent) * 1000)
            statuses[status] += 1
            bump(sig.done)
            if plan.kind == "intake" and status == 202:
                items[orjson.loads(answer)["status"]] += 1
            elif plan.kind == "positions" and status == 200:
                items["fixes_ok"] += orjson.loads(answer)["accepted"]
        await client.close()

    await asyncio.gather(*(work(n) for n in range(plan.connections)))
    elapsed = clock() - start
    return {
        "latencies_ms": latencies, "elapsed_s": elapsed, "statuses": dict(statuses), "items": dict(items),
        "client_cpu": (time.process_time() - cpu) / elapsed,  # near 1.0: the client, not the center, limits
    }  # fmt: skip

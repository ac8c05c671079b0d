"""The measurements, in order: machine limits, alert -> offer latency, position updates, intake.

Intake goes last: its burst leaves a dispatch backlog behind that would disturb what follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from center.bench import clients
from center.bench.clients import BurstPlan, FleetPlan, Signals, StreamPlan, Target
from center.bench.control import BenchError, Child, CpuMeter, Progress, run_child
from center.bench.keepalive import KeepAlive, run_loop
from center.bench.limits import redis_rates, stream_hop
from center.bench.report import Figure, percentile
from core.roles import Role

CITY = (31.10, 31.35, 121.30, 121.60)  # lat and lon bounds: a city of about 28 x 28 km
SPACING_M = 300  # alert places further apart than any duplicate radius used here, so none is "linked"
LATENCY_CATEGORY = "domestic_dispute"  # auto-dispatched, one patrol car (or motorcycle) per incident
INTAKE_CATEGORY = "theft"  # confirmed by a dispatcher: the burst does not flood the units with offers
REF = {"geoadd": 67_000.0, "http": 11_000.0}  # DESIGN.md section 6, reference machine


@dataclass(frozen=True)
class Plan:
    """How big this run is: the defaults, smoke's smaller ones, or the command line's."""

    smoke: bool
    units: int
    alerts: int
    warmup: int
    rate: float
    clients: int
    intake: int
    fix_batches: int
    limit_s: float
    hops: int
    json_path: Path

    @classmethod
    def make(cls, smoke: bool, alerts: int | None, units: int | None, rate: float | None,
             connections: int | None, json_path: Path | None) -> Plan:  # fmt: skip
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return cls(
            smoke=smoke, units=units or (50 if smoke else 1000), alerts=alerts or (30 if smoke else 300),
            warmup=5 if smoke else 20, rate=rate or 50.0, clients=connections or 16,
            intake=100 if smoke else 2000, fix_batches=5 if smoke else 50, limit_s=0.3 if smoke else 1.5,
            hops=100 if smoke else 500, json_path=json_path or Path("bench-results") / f"bench-{stamp}.json",
        )  # fmt: skip


def alert_places(seed: int) -> list[tuple[float, float]]:
    """Grid points SPACING_M apart over the city, shuffled."""
    lat0, lat1, lon0, lon1 = CITY
    dlat = SPACING_M / 111_320
    dlon = dlat / 0.855  # cos(31.2 degrees)
    rows, cols = int((lat1 - lat0) / dlat), int((lon1 - lon0) / dlon)
    places = [(lat0 + r * dlat, lon0 + c * dlon) for r in range(rows) for c in range(cols)]
    random.Random(seed).shuffle(places)
    return places


def unit_homes(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lat0, lat1, lon0, lon1 = CITY
    return [(rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)) for _ in range(count)]


def _cycle(places: list[tuple[float, float]], start: int, count: int) -> list[tuple[float, float]]:
    return [places[(start + i) % len(places)] for i in range(count)]


def memory_mb(pid: int) -> dict[str, float]:
    """Peak and current resident memory of one process, from /proc (empty where there is none)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0]) / 1024
    return found


async def register(target: Target, homes: list[tuple[float, float]], run_id: str, say: Progress) -> list[int]:
    """Available patrol cars with a first position each, as an admin and an AVL gateway would."""
    ids = [0] * len(homes)
    todo = iter(range(len(homes)))

    async def add(client: KeepAlive) -> None:
        for i in todo:
            body = {"callsign": f"B{run_id}-{i}", "kind": "patrol_car", "status": "available"}
            status, answer = await client.request("POST", "/api/v1/units", orjson.dumps(body))
            if status != 201:
                raise BenchError(f"registering a unit: HTTP {status} {answer[:200]!r}")
            ids[i] = orjson.loads(answer)["id"]
            if (i + 1) % 1000 == 0:
                say(f"  units registered: {i + 1}/{len(homes)}")
        await client.close()

    await asyncio.gather(*(add(target.client(Role.ADMIN)) for _ in range(8)))
    gateway = target.client(Role.INTEGRATION)
    for start in range(0, len(ids), 1000):
        chunk = zip(ids[start : start + 1000], homes[start : start + 1000], strict=True)
        fixes = [{"unit_id": u, "lat": lat, "lon": lon, "at": time.time()} for u, (lat, lon) in chunk]
        status, answer = await gateway.request("POST", "/api/v1/locations", orjson.dumps({"fixes": fixes}))
        if status != 200 or orjson.loads(answer)["accepted"] != len(fixes):
            raise BenchError(f"first positions: HTTP {status} {answer[:200]!r}")
    await gateway.close()
    return ids


def measure(
    plan: Plan, target: Target, redis_url: str, center_pid: int, say: Progress, stack: contextlib.ExitStack
) -> tuple[list[Figure], dict[str, Any]]:
    """Every figure of the table, and what the run did (for the JSON file)."""
    run = Run(plan, target, say, stack, CpuMeter(center_pid), secrets.token_hex(3))
    say("machine limits: Redis XADD and GEOADD pipelined from Python, a Redis stream hop")
    rates = redis_rates(redis_url, run.id, plan.limit_s)
    hop = asyncio.run(stream_hop(redis_url, run.id, plan.hops))
    say(f"machine limits: no-op HTTP requests (GET /healthz) on {plan.clients} keep-alive connections")
    noop = run.child("no-op requests", clients.burst_main,
                     BurstPlan(target, "noop", plan.clients, seconds=2 * plan.limit_s), 0, 60)  # fmt: skip
    noop["rate"] = len(noop["latencies_ms"]) / noop["elapsed_s"]
    say(f"registering {plan.units} patrol cars, each with a first position")
    homes = unit_homes(plan.units, seed=1)
    unit_ids = run_loop(register(target, homes, run.id, say))
    places = alert_places(seed=2)
    latency = run.latency(unit_ids, homes, _cycle(places, 0, plan.warmup + plan.alerts))
    positions = run.positions(unit_ids, homes)
    say(f"intake: a burst of {plan.intake} alerts on {plan.clients} keep-alive connections")
    intake_places = _cycle(places, plan.warmup + plan.alerts, plan.intake)
    intake = run.child("intake alerts accepted", clients.burst_main,
                       BurstPlan(target, "intake", plan.clients, count=plan.intake, places=intake_places,
                                 category=INTAKE_CATEGORY), plan.intake, 300)  # fmt: skip
    intake["rate"] = intake["statuses"].get(202, 0) / intake["elapsed_s"]
    if intake["statuses"].get(202, 0) != plan.intake:
        run.notes.append(f"intake burst answers: {intake['statuses']}")
    memory = memory_mb(center_pid)
    shares = ", ".join(f"{phase} {share:.2f}" for phase, share in run.meter.shares.items())
    run.notes.append(f"center CPU, share of one core: {shares}")
    run.notes.append(f"no-op client CPU, share of one core: {noop['client_cpu']:.2f} (near 1: client-bound)")
    figures = _figures(plan, rates, hop, noop, latency, positions, intake, memory)
    return figures, {"notes": run.notes, "run_id": run.id, "center_cpu": run.meter.shares}


@dataclass
class Run:
    """What every phase needs; the phases that take more than one step."""

    plan: Plan
    target: Target
    say: Progress
    stack: contextlib.ExitStack
    meter: CpuMeter
    id: str
    notes: list[str] = field(default_factory=list)

    def child(self, label: str, main: Callable[[Any, Signals], None], plan: object, total: int,
              timeout: float) -> dict[str, Any]:  # fmt: skip
        return run_child(self.say, self.stack, label, main, plan, total, timeout, self.meter)

    def latency(
        self, unit_ids: list[int], homes: list[tuple[float, float]], places: list[tuple[float, float]]
    ) -> dict[str, Any]:
        """Alert accepted -> offer on the unit's socket, with every unit connected."""
        plan, say = self.plan, self.say
        fleet = self._open_fleet(unit_ids, homes)
        bodies = [orjson.dumps({"channel": "110", "category": LATENCY_CATEGORY,
                                "location": {"lat": lat, "lon": lon}}) for lat, lon in places]  # fmt: skip
        say(f"alerts: {plan.warmup} to warm up, then {plan.alerts} measured, at {plan.rate:g}/s")
        stream_plan = StreamPlan(self.target, bodies, plan.rate, plan.clients)
        stream = self.child("alerts answered", clients.stream_main, stream_plan, len(bodies),
                            len(bodies) / plan.rate + 60)  # fmt: skip
        records: list[dict[str, Any]] = stream["records"]
        expected = sum(1 for r in records if "incident" in r and not r["linked"])
        say.wait("offers received", lambda: f"{fleet.sig.seen.value}/{expected}",
                 lambda: fleet.sig.seen.value >= expected, timeout=15 + plan.alerts / plan.rate,
                 fatal=False)  # fmt: skip
        fleet.sig.stop.set()
        say.wait("closing unit sockets", lambda: "", fleet.finished, timeout=60)
        units = fleet.result()
        if units["counts"].get("errors"):
            self.notes.append(f"unit sockets got {units['counts']['errors']} errors: {units['errors'][:3]}")
        measured = [r for r in records if r["i"] >= plan.warmup]
        return self._join(measured, units["offers"]) | {"unit_socket_counts": units["counts"]}

    def _open_fleet(self, unit_ids: list[int], homes: list[tuple[float, float]]) -> Child:
        units = self.plan.units
        self.say(f"opening {units} unit sockets on /ws/unit (a client process of their own)")
        fleet_plan = FleetPlan(self.target, [(u, *h) for u, h in zip(unit_ids, homes, strict=True)])
        fleet = Child(clients.fleet_main, fleet_plan).start(self.stack)
        opened = lambda: fleet.sig.ready.is_set() or fleet.finished()  # noqa: E731
        self.say.wait("sockets open", lambda: f"{fleet.sig.done.value}/{units}", opened, 60 + units / 20)
        if not fleet.sig.ready.is_set():
            fleet.result()  # raises the child's error
            raise BenchError("the unit sockets' process ended before it was ready")
        return fleet

    def _join(self, measured: list[dict[str, Any]], offers: dict[int, tuple[float, int]]) -> dict[str, Any]:
        """Match each 202 answer to its offer by incident id; one clock, so a difference is a latency."""
        latencies = [(offers[r["incident"]][0] - r["answered"]) * 1000
                     for r in measured if r.get("incident") in offers and not r["linked"]]  # fmt: skip
        refused = sum(1 for r in measured if r["http"] != 202)
        linked = sum(1 for r in measured if r.get("linked"))
        missing = len(measured) - refused - linked - len(latencies)
        for count, what in ((refused, "refused (not 202)"), (linked, "linked to another incident"),
                            (missing, "accepted but never offered on a bench socket")):  # fmt: skip
            if count:
                self.notes.append(f"{count} of {len(measured)} measured alerts were {what}")
        sent_rate = _rate([r["sent"] for r in measured])
        offer_rate = _rate([offers[r["incident"]][0] for r in measured if r.get("incident") in offers])
        if sent_rate and offer_rate and offer_rate < 0.95 * sent_rate:
            behind = f"offers went out at {offer_rate:.0f}/s while alerts came at {sent_rate:.0f}/s"
            self.notes.append(f"the center fell behind: {behind}; alert -> offer measures a growing backlog")
        return {
            "latencies_ms": latencies, "missing": missing, "sent_rate": sent_rate, "offer_rate": offer_rate,
            "send_lag_p99_ms": percentile([(r["sent"] - r["due"]) * 1000 for r in measured], 99),
        }  # fmt: skip

    def positions(self, unit_ids: list[int], homes: list[tuple[float, float]]) -> dict[str, Any]:
        """Batched position updates, as AVL gateways send them."""
        connections = min(4, self.plan.units)
        batches = self.plan.fix_batches
        self.say(f"position updates: {batches} batches of 1,000 fixes on {connections} connections")
        positions = self.child("position batches", clients.burst_main,
                               BurstPlan(self.target, "positions", connections, count=batches, places=homes,
                                         unit_ids=unit_ids), batches, 300)  # fmt: skip
        positions["rate"] = positions["statuses"].get(200, 0) * 1000 / positions["elapsed_s"]
        positions["connections"] = connections
        return positions


def _ratio(figure: float | None, limit: float | None) -> float | None:
    return figure / limit if figure is not None and limit else None


def _rate(times: list[float]) -> float | None:
    """Events per second between the first and the last of these times."""
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span > 0 else None


def _figures(
    plan: Plan, rates: dict[str, float], hop: dict[str, float | None], noop: dict[str, Any],
    latency: dict[str, Any], positions: dict[str, Any], intake: dict[str, Any], memory: dict[str, float],
) -> list[Figure]:  # fmt: skip
    hop_p99, latencies = hop["p99_ms"], latency["latencies_ms"]
    p99 = percentile(latencies, 99)
    geo, noop_ms = rates["geoadd_per_s"], noop["latencies_ms"]
    intake_ms, fix_ms = intake["latencies_ms"], positions["latencies_ms"]
    return [
        Figure(
            "alert_to_offer", "alert accepted -> offer on the unit's socket",
            p50_ms=percentile(latencies, 50), p99_ms=p99, value=latency["sent_rate"], unit=" alerts/s sent",
            target="p99 <= 50 ms at 200/s, 10,000 units", limit=hop_p99,
            limit_label=f"stream hop p99 {hop_p99:.2f} ms" if hop_p99 else "-",
            ratio=_ratio(p99, hop_p99),
            details={"samples": len(latencies), "units": plan.units, "rate": plan.rate,
                     **{k: v for k, v in latency.items() if k != "latencies_ms"}},
        ),
        Figure(
            "intake", f"intake, 1 API process, {plan.clients} clients (accept call)",
            p50_ms=percentile(intake_ms, 50), p99_ms=percentile(intake_ms, 99), value=intake["rate"],
            unit=" alerts/s", target=">= 2,000/s", limit=noop["rate"],
            limit_label=f"no-op HTTP {noop['rate']:,.0f}/s", ratio=_ratio(intake["rate"], noop["rate"]),
            details={"alerts": plan.intake, "answers": intake["statuses"], "outcomes": intake["items"]},
        ),
        Figure(
            "position_updates", f"position updates, batches of 1,000 ({positions['connections']} clients)",
            p50_ms=percentile(fix_ms, 50), p99_ms=percentile(fix_ms, 99), value=positions["rate"],
            unit=" fixes/s", target=">= 20,000/s", limit=geo, limit_label=f"GEOADD {geo:,.0f}/s",
            ratio=_ratio(positions["rate"], geo),
            details={"batches": plan.fix_batches, "answers": positions["statuses"],
                     "fixes": positions["items"]},
        ),
        Figure(
            "center_memory", f"center process memory, peak RSS ({plan.units:,} units)",
            value=memory.get("VmHWM"), unit=" MB", target="<= 400 MB at 10,000 units", details=memory,
        ),
        Figure(
            "wall_screens", "1,000 wall screens: event -> client", target="p99 <= 250 ms",
            limit_label="not measured yet",
        ),
        Figure("limit_xadd", "[limit] Redis XADD, pipelined", value=rates["xadd_per_s"]),
        Figure(
            "limit_geoadd", "[limit] Redis GEOADD, pipelined", value=geo, target="reference ~67k/s",
            ratio=geo / REF["geoadd"],
        ),
        Figure(
            "limit_http", f"[limit] no-op HTTP GET /healthz ({plan.clients} clients)",
            p50_ms=percentile(noop_ms, 50), p99_ms=percentile(noop_ms, 99), value=noop["rate"],
            target="reference ~11k/s", ratio=noop["rate"] / REF["http"],
        ),
        Figure("limit_stream_hop", "[limit] Redis stream hop, XADD -> XREAD", hop["p50_ms"], hop_p99),
    ]  # fmt: skip

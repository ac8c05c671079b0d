"""The measurements, in order: machine limits, alert -> offer latency and the dispatcher's CPU, position
updates (batches, then /ws/unit messages), the nearest-unit search, wall screens, intake.

Intake goes last: its burst leaves a dispatch backlog behind that would disturb what follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import orjson

from bench import clients, sockets
from bench.clients import BurstPlan, FleetPlan, StreamPlan, Target
from bench.control import BenchError, Child, CpuMeter, Progress, memory_mb
from bench.figures import figures
from bench.keepalive import KeepAlive, run_loop
from bench.limits import redis_rates, stream_hop
from bench.plan import CITY, Plan, Run, alert_places, cycle, unit_homes
from bench.report import Figure, percentile
from bench.reports_load import reports_section
from bench.roads import road_section
from bench.search import nearest_search
from core.roles import Role

LATENCY_CATEGORY = "domestic_dispute"  # auto-dispatched, one patrol car (or motorcycle) per incident
INTAKE_CATEGORY = "theft"  # confirmed by a dispatcher: the burst does not flood the units with offers
IDLE = "units connected, no alerts"  # the CPU meter's phase before alert -> offer
ALERT_TO_OFFER = "alert -> offer"


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
    plan: Plan,
    target: Target,
    redis_url: str,
    database_url: str,
    center_pid: int,
    say: Progress,
    stack: contextlib.ExitStack,
) -> tuple[list[Figure], dict[str, Any]]:
    """Every figure of the table for the sections of this run, and what the run did (for the JSON)."""
    run = Run(plan, target, say, stack, CpuMeter(center_pid), secrets.token_hex(3), center_pid)
    found: dict[str, Any] = {}
    say("machine limits: Redis XADD and GEOADD pipelined from Python, a Redis stream hop")
    found["rates"] = redis_rates(redis_url, run.id, plan.limit_s)
    found["hop"] = asyncio.run(stream_hop(redis_url, run.id, plan.hops))
    say(f"machine limits: no-op HTTP requests (GET /healthz) on {plan.clients} keep-alive connections")
    noop = found["noop"] = run.child("no-op requests", clients.burst_main,
                                     BurstPlan(target, "noop", plan.clients, seconds=2 * plan.limit_s), 0,
                                     60)  # fmt: skip
    noop["rate"] = len(noop["latencies_ms"]) / noop["elapsed_s"]
    noop["center_cpu_s"] = run.meter.seconds.get("no-op requests")
    places = alert_places(seed=2)
    unit_ids: list[int] = []
    homes: list[tuple[float, float]] = []
    used = 0  # alert places taken so far: every alert of the run has a place of its own
    if plan.runs("latency", "positions", "ops"):
        say(f"registering {plan.units} patrol cars, each with a first position")
        homes = unit_homes(plan.units, seed=1)
        unit_ids = run_loop(register(target, homes, run.id, say))
    if plan.runs("latency"):
        found["latency"] = latency(run, unit_ids, homes, cycle(places, used, plan.warmup + plan.alerts))
        used += plan.warmup + plan.alerts
    if plan.runs("positions"):
        found["positions"] = positions(run, unit_ids, homes)
        found["ws_positions"] = sockets.ws_positions(run, unit_ids, homes)
    if plan.runs("search"):
        say(f"nearest-unit search: {plan.search_units:,} units in the live index, {plan.searches} searches")
        found["search"] = run_loop(nearest_search(redis_url, run.id, LATENCY_CATEGORY, plan.search_units,
                                                  plan.searches, CITY))  # fmt: skip
    if plan.runs("roads"):
        found["roads"] = road_section(run, redis_url)
    if plan.runs("reports"):
        found["reports"] = reports_section(run, database_url)
    if plan.runs("ops"):
        found["screens"] = sockets.wall_screens(run, cycle(places, used, plan.screen_alerts), INTAKE_CATEGORY)
        used += plan.screen_alerts
    if plan.runs("intake"):
        say(f"intake: a burst of {plan.intake} alerts on {plan.clients} keep-alive connections")
        burst = BurstPlan(target, "intake", plan.clients, count=plan.intake,
                          places=cycle(places, used, plan.intake), category=INTAKE_CATEGORY)  # fmt: skip
        intake = found["intake"] = run.child(
            "intake alerts accepted", clients.burst_main, burst, plan.intake, 300
        )
        intake["rate"] = intake["statuses"].get(202, 0) / intake["elapsed_s"]
        if intake["statuses"].get(202, 0) != plan.intake:
            run.notes.append(f"intake burst answers: {intake['statuses']}")
    found["memory"] = memory_mb(center_pid)
    shares = ", ".join(f"{phase} {share:.2f}" for phase, share in run.meter.shares.items())
    run.notes.append(f"center CPU, share of one core: {shares}")
    run.notes.append(f"no-op client CPU, share of one core: {noop['client_cpu']:.2f} (near 1: client-bound)")
    return figures(plan, found), {"notes": run.notes, "run_id": run.id, "center_cpu": run.meter.shares}


def latency(
    run: Run, unit_ids: list[int], homes: list[tuple[float, float]], places: list[tuple[float, float]]
) -> dict[str, Any]:
    """Alert accepted -> offer on the unit's socket, with every unit connected; and the center's CPU."""
    plan, say = run.plan, run.say
    fleet = _open_fleet(run, unit_ids, homes)
    idle_s = 0.5 if plan.smoke else 3.0
    say(f"  the center's CPU with the units connected and reporting, no alerts: {idle_s:g} s")
    with run.meter.measure(IDLE):
        time.sleep(idle_s)
    bodies = [orjson.dumps({"channel": "110", "category": LATENCY_CATEGORY,
                            "location": {"lat": lat, "lon": lon}}) for lat, lon in places]  # fmt: skip
    say(f"alerts: {plan.warmup} to warm up, then {plan.alerts} measured, at {plan.rate:g}/s")
    stream_plan = StreamPlan(run.target, bodies, plan.rate, plan.clients)
    with run.meter.measure(ALERT_TO_OFFER):  # from the first alert sent to the last offer received
        stream = run.child("alerts answered", clients.stream_main, stream_plan, len(bodies),
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
        run.notes.append(f"unit sockets got {units['counts']['errors']} errors: {units['errors'][:3]}")
    measured = [r for r in records if r["i"] >= plan.warmup]
    cpu = {"cpu_s": run.meter.seconds.get(ALERT_TO_OFFER), "phase_s": run.meter.wall.get(ALERT_TO_OFFER),
           "idle_share": run.meter.shares.get(IDLE), "handled": sum(1 for r in records if r["http"] == 202),
           "offered": len(units["offers"])}  # fmt: skip
    return _join(run, measured, units["offers"]) | {"unit_socket_counts": units["counts"], "cpu": cpu}


def _open_fleet(run: Run, unit_ids: list[int], homes: list[tuple[float, float]]) -> Child:
    units = run.plan.units
    run.say(f"opening {units} unit sockets on /ws/unit (a client process of their own)")
    fleet_plan = FleetPlan(run.target, [(u, *h) for u, h in zip(unit_ids, homes, strict=True)])
    fleet = Child(clients.fleet_main, fleet_plan).start(run.stack)
    opened = lambda: fleet.sig.ready.is_set() or fleet.finished()  # noqa: E731
    run.say.wait("sockets open", lambda: f"{fleet.sig.done.value}/{units}", opened, 60 + units / 20)
    if not fleet.sig.ready.is_set():
        fleet.result()  # raises the child's error
        raise BenchError("the unit sockets' process ended before it was ready")
    return fleet


def _join(run: Run, measured: list[dict[str, Any]], offers: dict[int, tuple[float, int]]) -> dict[str, Any]:
    """Match each 202 answer to its offer by incident id; one clock, so a difference is a latency."""
    latencies = [(offers[r["incident"]][0] - r["answered"]) * 1000
                 for r in measured if r.get("incident") in offers and not r["linked"]]  # fmt: skip
    refused = sum(1 for r in measured if r["http"] != 202)
    linked = sum(1 for r in measured if r.get("linked"))
    missing = len(measured) - refused - linked - len(latencies)
    for count, what in ((refused, "refused (not 202)"), (linked, "linked to another incident"),
                        (missing, "accepted but never offered on a bench socket")):  # fmt: skip
        if count:
            run.notes.append(f"{count} of {len(measured)} measured alerts were {what}")
    sent_rate = rate([r["sent"] for r in measured])
    offer_rate = rate([offers[r["incident"]][0] for r in measured if r.get("incident") in offers])
    if sent_rate and offer_rate and offer_rate < 0.95 * sent_rate:
        behind = f"offers went out at {offer_rate:.0f}/s while alerts came at {sent_rate:.0f}/s"
        run.notes.append(f"the center fell behind: {behind}; alert -> offer measures a growing backlog")
    return {
        "latencies_ms": latencies, "missing": missing, "sent_rate": sent_rate, "offer_rate": offer_rate,
        "send_lag_p99_ms": percentile([(r["sent"] - r["due"]) * 1000 for r in measured], 99),
    }  # fmt: skip


def positions(run: Run, unit_ids: list[int], homes: list[tuple[float, float]]) -> dict[str, Any]:
    """Batched position updates, as AVL gateways send them."""
    connections = min(4, run.plan.units)
    batches = run.plan.fix_batches
    run.say(f"position updates: {batches} batches of 1,000 fixes on {connections} connections")
    found = run.child("position batches", clients.burst_main,
                      BurstPlan(run.target, "positions", connections, count=batches, places=homes,
                                unit_ids=unit_ids), batches, 300)  # fmt: skip
    found["rate"] = found["statuses"].get(200, 0) * 1000 / found["elapsed_s"]
    found["connections"] = connections
    return found


def rate(times: list[float]) -> float | None:
    """Events per second between the first and the last of these times."""
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span > 0 else None

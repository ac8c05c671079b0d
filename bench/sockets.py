"""The socket phases: position messages on /ws/unit and wall screens on /ws/ops, each first against a
no-op server on the same stack with the same clients (this run's limit), then against the center.

The sockets are split between ``Plan.socket_processes`` client processes, so that one process's event
loop is not what the figure measures; they start their load together when the parent says go.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import orjson

from bench import clients
from bench.clients import StreamPlan, Target
from bench.control import BenchError, Child, Group, free_port, memory_mb
from bench.noop import NoopPlan, noop_main
from bench.plan import Run, split
from bench.report import clock
from bench.reporters import ReportPlan, reporters_main
from bench.screens import ScreenPlan, screens_main
from core.roles import Role

CREATED = "incident.created"  # the delta an accepted alert causes on every screen


def _start_noop(run: Run, plan: NoopPlan) -> Child:
    server = Child(noop_main, plan).start(run.stack)
    run.say.wait(
        "no-op server starting", lambda: "", lambda: server.sig.ready.is_set() or server.finished(), 60
    )
    if not server.sig.ready.is_set():
        server.result()  # raises the child's error
        raise BenchError("the no-op server ended before it was ready")
    return server


def _stop(run: Run, child: Child | Group, label: str) -> None:
    if isinstance(child, Child):
        child.sig.stop.set()
    else:
        child.stop()
    run.say.wait(label, lambda: "", child.finished, timeout=60)


# -- position messages -------------------------------------------------------------------------------


def ws_positions(run: Run, unit_ids: list[int], homes: list[tuple[float, float]]) -> dict[str, Any]:
    """Position messages from every unit's socket, as fast as the answers come (each socket under the
    center's rate limit); before that, the same clients against a no-op echo."""
    plan = run.plan
    parts = split([(u, *h) for u, h in zip(unit_ids, homes, strict=True)], plan.socket_processes)
    run.say(f"position updates over /ws/unit: {plan.units} sockets in {len(parts)} client processes; "
            "first against a no-op echo server (the limit)")  # fmt: skip
    in_flight = max(1, plan.ws_in_flight // len(parts))
    port = free_port(run.target.host)
    server = _start_noop(run, NoopPlan(run.target.host, port))
    echo_target = Target(run.target.host, port, run.target.secret)
    echo_plans = [ReportPlan(echo_target, p, plan.ws_seconds / 2, 0, in_flight) for p in parts]
    echo = _reporters(run, "no-op echo", echo_plans, meter=False)
    _stop(run, server, "stopping the no-op server")
    plans = [ReportPlan(run.target, p, plan.ws_seconds, in_flight=in_flight) for p in parts]
    found = _reporters(run, "position messages", plans)
    answers = found["answers"]
    if answers.get("socket closed"):
        run.notes.append(f"position messages: the center closed {answers['socket closed']} unit sockets "
                         "mid-run (see its log)")  # fmt: skip
    if set(answers) - {"ok"}:
        run.notes.append(
            f"position messages on /ws/unit were answered: {answers}; errors: {found['errors'][:3]}"
        )
    cap = plan.units * ReportPlan.per_socket_rate
    if found["rate"] > 0.9 * cap:
        run.notes.append(f"position messages: {plan.units} sockets under the center's per-unit rate limit "
                         f"cap this figure at {cap:,.0f}/s; more units would show more")  # fmt: skip
    run.notes.append(f"position-message client CPU, share of one core per process: {found['client_cpu']} "
                     f"(no-op echo: {echo['client_cpu']})")  # fmt: skip
    return {"center": found, "echo": echo, "sockets": plan.units, "processes": len(parts),
            "in_flight": in_flight * len(parts)}  # fmt: skip


def _reporters(run: Run, label: str, plans: list[ReportPlan], meter: bool = True) -> dict[str, Any]:
    sockets = sum(len(p.units) for p in plans)
    group = Group(reporters_main, plans).start(run.stack)
    run.say.wait(
        f"{label}: sockets open", lambda: f"{group.done()}/{sockets}", group.ready, 60 + sockets / 20
    )
    group.go()
    with run.meter.measure(label) if meter else contextlib.nullcontext():
        run.say.wait(f"{label}: answered", lambda: f"{group.seen()}", group.finished, plans[0].seconds + 60)
    results = group.results()
    ok = sum(r["answers"].get("ok", 0) for r in results)
    span = max(r["finished"] for r in results) - min(r["started"] for r in results)
    answers: dict[str, int] = {}
    for r in results:
        for verdict, count in r["answers"].items():
            answers[verdict] = answers.get(verdict, 0) + count
    return {
        "rate": ok / span if span > 0 else 0.0, "answers": answers,
        "latencies_ms": [x for r in results for x in r["latencies_ms"]], "seconds": span,
        "errors": [e for r in results for e in r["errors"]],
        "client_cpu": [round(r["client_cpu"], 2) for r in results], "center_cpu": run.meter.shares.get(label),
    }  # fmt: skip


# -- wall screens ------------------------------------------------------------------------------------


def wall_screens(run: Run, places: list[tuple[float, float]], category: str) -> dict[str, Any]:
    """Screens on /ws/ops while alerts arrive: request -> each screen's delta; the center's memory per
    connection. Before that, the same screens on a no-op server that broadcasts (the limits)."""
    plan, host = run.plan, run.target.host
    counts = [len(p) for p in split(list(range(plan.screens)), plan.socket_processes)]
    noop = _broadcast_limits(run, counts)
    before = memory_mb(run.center_pid).get("VmRSS")
    opened = clock()
    url = f"ws://{host}:{run.target.port}/ws/ops"
    group = _screens(run, "wall screens", url, run.target.token(Role.DISPLAY), counts, CREATED)
    opened = clock() - opened
    time.sleep(1.0)  # what building the snapshots allocated settles
    after = memory_mb(run.center_pid).get("VmRSS")
    run.say(f"wall screens: {plan.screen_alerts} alerts at {plan.screen_rate:g}/s while {plan.screens} "
            "screens listen")  # fmt: skip
    bodies = [orjson.dumps({"channel": "110", "category": category, "location": {"lat": lat, "lon": lon}})
              for lat, lon in places]  # fmt: skip
    stream = run.child("wall-screen alerts answered", clients.stream_main,
                       StreamPlan(run.target, bodies, plan.screen_rate, 4), len(bodies),
                       len(bodies) / plan.screen_rate + 60)  # fmt: skip
    # from the moment each request was sent: the delta may reach a screen before the answer does
    sent = {r["incident"]: r["sent"] for r in stream["records"] if "incident" in r and not r["linked"]}
    expected = plan.screens * len(sent)
    run.say.wait("deltas on the screens", lambda: f"{group.seen()}/{expected}",
                 lambda: group.seen() >= expected, timeout=60, fatal=False)  # fmt: skip
    _stop(run, group, "closing the wall screens")
    screens = group.results()
    latencies = [(t - sent[i]) * 1000 for s in screens for i, ts in s["arrivals"].items() if i in sent
                 for t in ts]  # fmt: skip
    if len(latencies) < expected:
        run.notes.append(f"wall screens: {expected - len(latencies)} of {expected} deltas did not arrive")
    if len(sent) < len(bodies):
        run.notes.append(f"wall screens: {len(bodies) - len(sent)} of {len(bodies)} alerts made no new "
                         "incident")  # fmt: skip
    found = _counts(screens)
    if found.get("snapshot") or found.get("dropped"):  # a snapshot after the first one: a resync
        run.notes.append(f"wall screens were resynced or dropped: {found}")
    run.notes.append(f"wall screens: opening {plan.screens} took {opened:.0f} s (a snapshot each, "
                     f"{found.get('snapshot_bytes', 0) / max(plan.screens, 1) / 1024:,.0f} KB)")  # fmt: skip
    return {
        "latencies_ms": latencies, "events": len(sent), "rss_before_mb": before, "rss_after_mb": after,
        "kb_per_connection": (after - before) * 1024 / plan.screens if before and after else None,
        "open_s": opened, "counts": found, "opening_ms": [x for s in screens for x in s["opening_ms"]],
        "noop": noop,
    }  # fmt: skip


def _broadcast_limits(run: Run, counts: list[int]) -> dict[str, Any]:
    """The same screens on a no-op server: paced events (a latency), a burst (frames per second), and
    the server's memory per connection."""
    plan, host = run.plan, run.target.host
    run.say(f"wall screens: {plan.screens} sockets on /ws/ops in {len(counts)} client processes; first on a "
            f"no-op server that broadcasts {plan.noop_events} events at {plan.screen_rate:g}/s, then "
            f"{plan.noop_burst} back to back (the limits)")  # fmt: skip
    port = free_port(host)
    server = _start_noop(run, NoopPlan(host, port, plan.screens, plan.noop_events, plan.screen_rate,
                                       plan.noop_burst))  # fmt: skip
    group = _screens(run, "no-op screens", f"ws://{host}:{port}/ws/ops", "-", counts, "noop")
    server.sig.go.set()
    total = plan.screens * (plan.noop_events + plan.noop_burst)
    run.say.wait("no-op events received", lambda: f"{group.seen()}/{total}", lambda: group.seen() >= total,
                 timeout=60 + plan.noop_events / plan.screen_rate, fatal=False)  # fmt: skip
    _stop(run, group, "closing the no-op screens")
    screens = group.results()
    _stop(run, server, "stopping the no-op server")
    found = server.result()
    sent: dict[int, float] = found["sent"]
    events = plan.noop_events
    paced = [(t - sent[i]) * 1000 for s in screens for i, ts in s["arrivals"].items() if i < events
             for t in ts]  # fmt: skip
    burst = [t for s in screens for i, ts in s["arrivals"].items() if i >= events for t in ts]
    span = max(burst) - found["burst_start"] if burst and found["burst_start"] is not None else 0.0
    idle, connected = found["rss_mb"].get("idle"), found["rss_mb"].get("connected")
    return {
        "latencies_ms": paced, "burst_frames": len(burst),
        "frames_per_s": len(burst) / span if span > 0 else None,
        "kb_per_connection": (connected - idle) * 1024 / plan.screens if idle and connected else None,
        "rss_mb": found["rss_mb"], "counts": _counts(screens),
    }  # fmt: skip


def _screens(run: Run, label: str, url: str, token: str, counts: list[int], kind: str) -> Group:
    group = Group(screens_main, [ScreenPlan(url, token, n, kind) for n in counts]).start(run.stack)
    total = sum(counts)
    # the center builds a snapshot for each: give it time (about 0.1 s each on a 2-core machine)
    run.say.wait(f"{label}: sockets open", lambda: f"{group.done()}/{total}", group.ready, 60 + total * 0.4)
    return group


def _counts(screens: list[dict[str, Any]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for s in screens:
        for name, count in s["counts"].items():
            found[name] = found.get(name, 0) + count
    return found

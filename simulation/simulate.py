"""``dispatch-center simulate --replay FILE``: real calls against a simulated fleet, two policies compared.

Both policies replay the same calls against the same fleet, each in a run of its own against a fresh
center process (the real ``dispatch-center up``): first the center's own policy (its dispatcher:
dispatch/recommend.py for each incident, the pending list with dispatch/joint.py for incidents that
wait), then straight-line greedy nearest, one incident at a time, sent by a desk client through the API
while the center runs no dispatcher. The table shows both side by side and their ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.catalogue import load_catalogue
from center.scratch import scratch_stores
from center.settings import Settings
from core.tokens import TokenSigner
from dispatch.road_travel import RoadTravel
from dispatch.travel import StraightLineTravel
from roads.prepared import load_router
from simulation.api import Api
from simulation.calls import (
    BALTIMORE_FILE,
    BALTIMORE_ROADS,
    DEFAULT_FILE,
    choose,
    describe,
    map_call,
    read_calls,
)
from simulation.metrics import Quantile, Summary, ratio, summarise, table
from simulation.process import SimulateError, center_env, center_process, tail
from simulation.replay import RunPlan, RunResult, run_policy
from simulation.stations import replay_fleet
from units.kinds import load_kinds

POLICIES = ("center", "greedy")
NAMES = {"center": "center policy", "greedy": "greedy nearest"}
DEFAULT_SPEED = 120.0
DEFAULT_UNITS = 100
DEFAULT_DRAIN_MIN = 60.0


class Progress:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[simulate {time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_time(text: str | None) -> datetime | None:
    """A local time of the data: ``2018-11-15 12:00`` or ``2018-11-15T12:00``."""
    return None if text is None else datetime.fromisoformat(text.replace(" ", "T"))


def run_simulate(
    settings: Settings, replay: str | None, *, speed: float = DEFAULT_SPEED, start: str | None = None,
    end: str | None = None, units: int = DEFAULT_UNITS, drain_min: float = DEFAULT_DRAIN_MIN,
    policies: tuple[str, ...] = POLICIES, json_path: str | None = None, roads: str | None = None,
) -> int:  # fmt: skip
    """Replay, print the report; the exit code."""
    say = Progress()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    path = BALTIMORE_FILE if replay == "baltimore" else Path(replay) if replay else DEFAULT_FILE
    extract = Path(roads) if roads else BALTIMORE_ROADS if path == BALTIMORE_FILE else None
    try:
        every = read_calls(path)
        chosen, note = choose(every, parse_time(start), parse_time(end))
    except (OSError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    if not chosen:
        print(f"simulate: no calls in {path} between --from and --to", file=sys.stderr)
        return 2
    if speed <= 0 or units < 1:
        print("simulate: --speed must be positive and --units at least 1", file=sys.stderr)
        return 2
    replayed = {c.index for c in chosen}
    history = [c for c in every if c.index not in replayed] or chosen
    kinds = load_kinds()
    catalogue = load_catalogue(unit_kinds=kinds.keys())
    channels = {c.code: frozenset(ch.value for ch in c.channels) for c in catalogue}
    calls = [(c, map_call(c.title, channels, c.priority)) for c in chosen]
    print(f"\nreplay: {path.name}, {describe(chosen)}{note}\n"
          f"fleet: {units} units at stations placed on the calls outside this window; calls at their real "
          f"places and times, {speed:g}x faster than real time"
          + (f"; units drive on the roads of {extract.name} in both runs, the center ranks them by road"
             if extract else "") + "\n", flush=True)  # fmt: skip
    results: dict[str, Summary] = {}
    try:
        with contextlib.ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dispatch-simulate-")))
            work.chmod(0o755)  # PostgreSQL, run as its own user under root, may then use it
            urls = stack.enter_context(scratch_stores(
                settings, work, say, "the replay registers units and takes calls on those servers "
                "(it closes its incidents and retires its units after)",
            ))  # fmt: skip
            secret = secrets.token_urlsafe(48)
            travel = _roads(extract, kinds, work) if extract else None
            for n, policy in enumerate(policies, start=1):
                tag = f"sim{int(time.time())}-{n}"
                specs, hospitals = replay_fleet(history, units, prefix=f"R{tag.removeprefix('sim')}")
                plan = RunPlan(policy, calls, specs, hospitals, speed, drain_min * 60, tag, travel)
                env = center_env(urls, secret, work / f"center-{n}", speed)
                if extract and policy == "center":  # the greedy desk ranks by straight line itself
                    env["DISPATCH_ROADS_FILE"] = str(extract.resolve())
                log_path = work / f"center-{n}.log"
                say(f"run {n} of {len(policies)}: {NAMES[policy]}, starting a center")
                with center_process(env, policy == "center", log_path, say) as port:
                    try:
                        result = asyncio.run(_one(f"http://127.0.0.1:{port}", secret, plan, kinds, catalogue,
                                                  say))  # fmt: skip
                    except Exception:
                        say(f"the center's log ends with:\n{tail(log_path)}")
                        raise
                results[policy] = summarise(policy, result.log, result.window_s, result.end_s)
                say(f"run {n} done: {result.log.calls} calls, {len(result.log.incidents)} incidents")
    except KeyboardInterrupt:
        print("simulate interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    except (SimulateError, TimeoutError, OSError) as exc:
        print(f"simulate failed: {exc}", file=sys.stderr)
        return 1
    shown: dict[str, Summary] = {
        p: results[p] for p in ("greedy", "center") if p in results
    }  # baseline first
    print(table(shown, NAMES))
    if len(results) == 2:
        print(_verdict(results["center"], results["greedy"]))
    if json_path:
        _write_json(Path(json_path), path, chosen[0].at, chosen[-1].at, speed, units, results)
        print(f"results: {json_path}")
    return 0


def _roads(extract: Path, kinds: Any, work: Path) -> RoadTravel:
    """The road network the simulated units drive on (the same the center routes on)."""
    loaded = load_router(extract, {k.road_profile for k in kinds.values()}, work / "roads")
    straight = StraightLineTravel({k: v.speed_kmh for k, v in kinds.items()})
    return RoadTravel({k: v.road_profile for k, v in kinds.items()},
                      {k: v.speed_kmh for k, v in kinds.items()}, straight, router=loaded.router)  # fmt: skip


async def _one(url: str, secret: str, plan: RunPlan, kinds: Any, catalogue: Any, say: Progress) -> RunResult:
    api = Api(url, TokenSigner(secret))
    try:
        return await run_policy(api, plan, kinds, catalogue, say)
    finally:
        await api.close()


def _verdict(center: Summary, greedy: Summary) -> str:
    """One line: the center's figures over the baseline's (below 1 is better for times)."""

    def over(a: Quantile, b: Quantile) -> str:
        return "-" if a.at_least or b.at_least else ratio(a.seconds, b.seconds)

    urgent = ""
    if 1 in center.by_priority and 1 in greedy.by_priority:
        urgent = f"priority 1 mean x {over(center.by_priority[1].mean, greedy.by_priority[1].mean)}; "
    return (f"\ncenter policy / greedy nearest: {urgent}response p50 x {over(center.p50, greedy.p50)}, "
            f"p90 x {over(center.p90, greedy.p90)}; priority 1-2 p50 x "
            f"{over(center.urgent_p50, greedy.urgent_p50)}, "
            f"p90 x {over(center.urgent_p90, greedy.urgent_p90)}; "
            f"time waited with nobody free x {ratio(center.waited_total_s, greedy.waited_total_s)} "
            "(below 1: the center's policy is faster; '-' where a figure is only a lower bound)")  # fmt: skip


def _write_json(
    path: Path, source: Path, first: datetime, last: datetime, speed: float, units: int,
    results: dict[str, Summary],
) -> None:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"run_at": datetime.now(UTC).isoformat(), "file": source.name, "from": first.isoformat(),
           "to": last.isoformat(), "speed": speed, "units": units,
           "policies": {k: v.as_json() for k, v in results.items()}}  # fmt: skip
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")

"""One replay run: real calls against a simulated fleet, through a running center, under one policy.

The fleet is registered (new units, their own callsigns), comes on line at its stations, then the calls
are posted at their real times (their minute spread evenly over it), sped up. Under the center's own
policy its dispatcher does everything; under the greedy policy a desk client sends the units. After the
last call the run goes on until every incident has a unit on scene (or the drain time is over); then the
run's incidents are closed and its units retired, so that the next run starts clean.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.catalogue import Catalogue
from core.roles import Role
from dispatch.road_travel import RoadTravel
from simulation.api import FAILED, Api, ApiError
from simulation.calls import Mapped, ReplayCall
from simulation.clock import SimClock
from simulation.crew import Crew
from simulation.desk import Desk
from simulation.fleet import Fleet, register
from simulation.geo import Point
from simulation.greedy import GreedyDesk
from simulation.metrics import RunLog
from simulation.roster import UnitSpec
from simulation.tempo import REPLAY
from simulation.unit import World
from simulation.watch import OpsWatch
from units.kinds import UnitKind

log = logging.getLogger(__name__)

# the steps that take an active assignment to cleared (a dispatcher may take each of them)
TO_CLEARED = {"offered": ("accept", "arrive", "clear"), "accepted": ("arrive", "clear"),
              "en_route": ("arrive", "clear"), "on_scene": ("clear",)}  # fmt: skip
PROGRESS_EVERY_S = 5.0  # wall seconds


@dataclass(frozen=True)
class RunPlan:
    policy: str  # "center" or "greedy"
    calls: Sequence[tuple[ReplayCall, Mapped]]
    specs: Sequence[UnitSpec]
    hospitals: Sequence[Point]
    speed: float
    drain_s: float  # simulated seconds after the last call
    tag: str  # unique per run: the calls' ids
    roads: RoadTravel | None = None  # the network the units drive on, for every policy alike

    def offsets(self) -> list[float]:
        """Each call's simulated second from the first; calls of one minute spread evenly over it."""
        if not self.calls:
            return []
        first = self.calls[0][0].at
        per_minute = Counter(c.at for c, _ in self.calls)
        seen: Counter[Any] = Counter()
        out = []
        for call, _ in self.calls:
            seen[call.at] += 1
            spread = 60.0 * (seen[call.at] - 1) / per_minute[call.at]
            out.append((call.at - first).total_seconds() + spread)
        return out


@dataclass
class RunResult:
    log: RunLog
    window_s: float  # from the first call to the last
    end_s: float  # when the run stopped (the run's clock, like every time in the log)


async def run_policy(
    api: Api, plan: RunPlan, kinds: Mapping[str, UnitKind], catalogue: Catalogue, say: Callable[[str], None]
) -> RunResult:
    run = RunLog()
    clock = SimClock(plan.speed)
    known = await register(api, plan.specs)
    run.unit_kinds = {int(row["id"]): row["kind"] for row in known.values()}

    def seed_of(incident_id: int) -> int | None:
        found = run.incidents.get(incident_id)
        return found.call if found is not None and found.call >= 0 else None

    world = World(api, clock, REPLAY, kinds, plan.hospitals, run, seed_of, reconnect=False, roads=plan.roads)
    fleet = Fleet(world, plan.specs, known)
    watch = OpsWatch(api, reconnect=False)
    desk = Desk(api, clock, random.Random(0), confirm_s=(0.0, 0.0), close_s=(0.0, 0.0))
    watch.listeners.append(desk.on_frame)
    greedy = GreedyDesk(api, watch, catalogue, clock, run) if plan.policy == "greedy" else None
    if greedy is not None:
        watch.listeners.append(greedy.on_frame)
    else:
        watch.listeners.append(lambda m: _center_pending(m, run, clock))
    crew = Crew()
    end = 0.0
    try:
        crew.start("ops-watch", watch.run)
        crew.start("desk", desk.run)
        if greedy is not None:
            crew.start("greedy-desk", greedy.run)
        fleet.start(crew)
        await _until(
            lambda: watch.ready.is_set() and _on_line(watch, run), crew, 60, "the fleet came on line"
        )
        window = await _inject(api, plan, clock, run, greedy, crew, say)
        await _drain(plan, clock, run, crew, window, say)
        end = clock.now()
    finally:
        end = end or clock.now()
        await crew.stop()  # units on a job record their work up to now as they stop
        await _clean_up(api, run)
    return RunResult(run, window, end)


def _center_pending(m: dict[str, Any], run: RunLog, clock: SimClock) -> None:
    if m.get("kind") == "incident.pending" and isinstance(m.get("incident_id"), int):
        run.pending(m["incident_id"], clock.now())


def _on_line(watch: OpsWatch, run: RunLog) -> bool:
    """Every unit of the run is on the picture with a position."""
    return all((u := watch.units.get(uid)) is not None and u.lat is not None for uid in run.unit_kinds)


async def _until(done: Callable[[], bool], crew: Crew, timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done():
        if (failure := crew.failure()) is not None:
            raise failure
        if loop.time() > deadline:
            raise TimeoutError(f"not done within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def _inject(
    api: Api, plan: RunPlan, clock: SimClock, run: RunLog, greedy: GreedyDesk | None, crew: Crew,
    say: Callable[[str], None],
) -> float:  # fmt: skip
    """Post every call at its time; the span of the calls in simulated seconds."""
    offsets = plan.offsets()
    t0 = run.origin = clock.now()
    shown = asyncio.get_running_loop().time()
    for (call, mapped), offset in zip(plan.calls, offsets, strict=True):
        if (failure := crew.failure()) is not None:
            raise failure
        await clock.sleep_until(t0 + offset)
        body: dict[str, Any] = {
            "channel": mapped.channel, "category": mapped.category,
            "location": {"lat": call.lat, "lon": call.lon, "address": f"{call.address}, {call.township}"},
            "description": call.title, "call_id": f"{plan.tag}-{call.index}",
        }  # fmt: skip
        if mapped.priority is not None:
            body["priority"] = mapped.priority
        at = clock.now()
        try:
            answer = await api.request("POST", "/api/v1/alerts", Role.CALL_TAKER, body)
        except ApiError as exc:
            run.refused += 1
            log.warning("call %s refused: %s", call.index, exc)
            continue
        if answer["status"] == "linked":
            run.linked_to(answer["incident_id"], answer["priority"], at)
            continue
        run.called(answer["incident_id"], call.index, mapped.category, answer["priority"], at)
        if greedy is not None:
            greedy.incident(answer["incident_id"], call.lat, call.lon, mapped.category)
        if (now := asyncio.get_running_loop().time()) - shown > PROGRESS_EVERY_S:
            shown = now
            say(f"  {plan.policy}: {_clock(at - t0)} of {_clock(offsets[-1])}, {run.calls} calls, "
                f"{_waiting(run)} incidents without a unit on scene")  # fmt: skip
    return offsets[-1] if offsets else 0.0


async def _drain(
    plan: RunPlan, clock: SimClock, run: RunLog, crew: Crew, window_s: float, say: Callable[[str], None]
) -> None:
    """After the last call: until every incident has had a unit on scene, or the drain time is over."""
    t0 = run.origin
    stop_at = t0 + window_s + plan.drain_s
    shown = asyncio.get_running_loop().time()
    while _waiting(run) and clock.now() < stop_at:
        if (failure := crew.failure()) is not None:
            raise failure
        await asyncio.sleep(0.05)
        if (now := asyncio.get_running_loop().time()) - shown > PROGRESS_EVERY_S:
            shown = now
            later = _clock(clock.now() - t0 - window_s)
            say(f"  {plan.policy}: {later} after the last call, {_waiting(run)} still without a unit")


def _waiting(run: RunLog) -> int:
    return sum(1 for i in run.incidents.values() if i.called_at is not None and i.arrived_at is None)


def _clock(s: float) -> str:
    return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}"


async def _clean_up(api: Api, run: RunLog) -> None:
    """Close the run's incidents and retire its units, so that the next run starts clean.

    Incidents nobody is on are closed first; then every active assignment is walked to cleared (not
    cancelled: an incident left with no unit would wait again and take the freed unit straight back).
    """
    for _ in range(3):
        still: list[tuple[int, list[dict[str, Any]]]] = []
        for incident_id in run.incidents:
            try:
                detail = await api.get(f"/api/v1/incidents/{incident_id}")
            except FAILED as exc:
                log.warning("clean-up of incident %s: %s", incident_id, exc)
                continue
            if detail["status"] != "closed":
                still.append((incident_id, [a for a in detail["assignments"] if a["status"] in TO_CLEARED]))
        if not still:
            break
        still.sort(key=lambda s: bool(s[1]))
        for incident_id, active in still:
            try:
                for a in active:
                    for step in TO_CLEARED[a["status"]]:
                        await api.request("POST", f"/api/v1/assignments/{a['id']}/{step}", Role.DISPATCHER,
                                          ok=(200, 409))  # fmt: skip
                await api.request("POST", f"/api/v1/incidents/{incident_id}/close", Role.DISPATCHER,
                                  {"reason": "end of replay"}, ok=(200, 409))  # fmt: skip
            except FAILED as exc:
                log.warning("clean-up of incident %s: %s", incident_id, exc)
    for unit_id in run.unit_kinds:
        try:
            await api.request("POST", f"/api/v1/units/{unit_id}/retire", Role.ADMIN, ok=(200, 409))
        except FAILED as exc:
            log.warning("clean-up of unit %s: %s", unit_id, exc)

"""One simulated unit: a client of ``/ws/unit`` that behaves like a crew with a phone or a tracker.

While free it patrols its area (or waits at its base) and reports where it is. An offer is read,
sometimes declined, else accepted; the unit gets moving, drives to the scene at its kind's speed
reporting fixes on the way, arrives, spends time on scene (an ambulance then takes the patient to the
nearest hospital), clears and heads back. A cancellation or an offer that timed out stops it where it is.
Everything goes over the unit's own socket, as a real unit's app does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from websockets.asyncio.client import ClientConnection

from core.roles import Role
from dispatch.road_travel import RoadTravel
from simulation.api import UNREACHABLE, Api
from simulation.clock import SimClock
from simulation.geo import Point, along, distance_m, road_m, scatter
from simulation.roster import UnitSpec
from simulation.tempo import Tempo
from units.kinds import UnitKind

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 30.0
PATROL_PACE = 0.5  # patrolling is slower than driving to a call


class Recorder(Protocol):
    """What a run measures about its units (simulated seconds)."""

    def offered(self, unit_id: int, incident_id: int, at: float) -> None: ...
    def arrived(self, unit_id: int, incident_id: int, at: float) -> None: ...
    def worked(self, unit_id: int, since: float, until: float) -> None: ...
    def drove(self, unit_id: int, seconds: float) -> None: ...


class NoRecorder:
    def offered(self, unit_id: int, incident_id: int, at: float) -> None:
        pass

    def arrived(self, unit_id: int, incident_id: int, at: float) -> None:
        pass

    def worked(self, unit_id: int, since: float, until: float) -> None:
        pass

    def drove(self, unit_id: int, seconds: float) -> None:
        pass


@dataclass
class World:
    """What every unit of a run shares."""

    api: Api
    clock: SimClock
    tempo: Tempo
    kinds: Mapping[str, UnitKind]
    hospitals: Sequence[Point]
    recorder: Recorder = field(default_factory=NoRecorder)
    # a seed per incident, so that a replay gives one incident the same times in every run
    seed_of: Callable[[int], int | None] = lambda incident_id: None
    reconnect: bool = True  # after a lost connection (the demo); a replay fails instead
    # the road network the units drive on (the truth of a run on roads); none: straight x circuity
    roads: RoadTravel | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    assignment_id: int
    incident_id: int
    lat: float
    lon: float
    category: str
    priority: int
    received_at: float  # simulated time the offer reached the unit: it is busy from then


class SimUnit:
    def __init__(self, spec: UnitSpec, unit_id: int, world: World, start: Point, seed: int) -> None:
        self.spec = spec
        self.id = unit_id
        self.world = world
        self.kind = world.kinds[spec.kind]
        self.speed_mps = self.kind.speed_kmh / 3.6
        self.pos = start
        self.rng = random.Random(seed)
        self.offers: asyncio.Queue[Offer] = asyncio.Queue()
        self.wake = asyncio.Event()  # an offer is waiting
        self.job: Offer | None = None
        self.job_ended = asyncio.Event()  # the center cancelled the job, or its offer timed out
        self._ended: set[int] = set()  # assignments ended by the center before the unit took them up
        self._ws: ClientConnection | None = None
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ref = 0
        self._last_fix = 0.0

    # -- the connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and behave, forever; after a lost connection, connect again (where allowed)."""
        while True:
            try:
                await self._session()
            except UNREACHABLE as exc:
                if not self.world.reconnect:
                    raise
                log.debug("unit %s lost its connection (%s); connecting again", self.spec.callsign, exc)
                await asyncio.sleep(1 + self.rng.random() * 2)

    async def _session(self) -> None:
        token = self.world.api.token(Role.UNIT, self.spec.callsign, unit_id=self.id)
        ws, hello = await self.world.api.socket("/ws/unit", token)
        self._ws = ws
        tasks = [asyncio.create_task(self._read(ws), name=f"{self.spec.callsign}-read"),
                 asyncio.create_task(self._live(hello), name=f"{self.spec.callsign}-live")]  # fmt: skip
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise ConnectionError("the center closed the socket")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ws = None
            for reply in self._replies.values():
                reply.cancel()
            self._replies.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            m = orjson.loads(raw)
            kind = m.get("type")
            if kind in ("ack", "error"):
                reply = self._replies.pop(m.get("ref"), None) if isinstance(m.get("ref"), int) else None
                if reply is not None and not reply.done():
                    reply.set_result(m)
            elif kind == "event" and m.get("unit_id") == self.id:
                self._event(m)

    def _event(self, m: dict[str, Any]) -> None:
        kind, assignment_id = m.get("kind"), m.get("assignment_id")
        if kind == "assignment.offered" and isinstance(assignment_id, int):
            scene = (m.get("data") or {}).get("incident") or {}
            now = self.world.clock.now()
            offer = Offer(assignment_id, int(m["incident_id"]), float(scene["lat"]), float(scene["lon"]),
                          str(scene.get("category", "")), int(scene.get("priority") or 3), now)  # fmt: skip
            self.world.recorder.offered(self.id, offer.incident_id, now)
            self.offers.put_nowait(offer)
            self.wake.set()
        elif kind in ("assignment.cancelled", "assignment.timed_out") and isinstance(assignment_id, int):
            if self.job is not None and self.job.assignment_id == assignment_id:
                self.job_ended.set()
            else:
                self._ended.add(assignment_id)

    async def send(self, message: dict[str, Any], wait: bool = True) -> dict[str, Any]:
        """Send one message; with ``wait``, its answer (retried while the center asks to slow down)."""
        for attempt in range(5):
            ws = self._ws
            if ws is None:
                raise ConnectionError("not connected")
            self._ref += 1
            ref = self._ref
            reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            if wait:
                self._replies[ref] = reply
            await ws.send(orjson.dumps({**message, "ref": ref}).decode())
            if not wait:
                return {}
            try:
                answer = await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
            finally:
                self._replies.pop(ref, None)
            reason = str(answer.get("reason", ""))
            if answer.get("type") == "error" and (answer.get("retry") or reason.startswith("rate limit")):
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            return answer
        return answer

    # -- behaviour --------------------------------------------------------------------------------

    async def _live(self, hello: dict[str, Any]) -> None:
        await self._resume(hello)
        await self.report()
        while True:
            if not self.offers.empty():
                await self._take(self.offers.get_nowait())
                continue
            self.wake.clear()
            await self._free()

    async def _resume(self, hello: dict[str, Any]) -> None:
        """After a restart: finish what the center says this unit was doing, and come on duty."""
        for a in hello.get("assignments", []):
            step = {"offered": "decline", "accepted": "arrive", "en_route": "arrive"}.get(a["status"])
            if step is not None:
                await self.send({"type": step, "assignment_id": a["id"]})
            if step != "decline":
                await self.send({"type": "clear", "assignment_id": a["id"]})
        if (hello.get("unit") or {}).get("status") in ("off_duty", "out_of_service"):
            answer = await self.send({"type": "status", "status": "available"})
            if answer.get("type") == "error":
                log.info("unit %s could not come on duty: %s", self.spec.callsign, answer.get("reason"))

    async def _free(self) -> None:
        """One stretch of free time: patrol, go back to base or wait there; an offer interrupts."""
        tempo, spec = self.world.tempo, self.spec
        if tempo.patrol and spec.patrol_m > 0:
            far = distance_m(self.pos, spec.patrol_centre) > spec.patrol_m + 200
            target = scatter(self.rng, *spec.patrol_centre, spec.patrol_m)
            pace = 1.0 if far else PATROL_PACE
            if await self.go(target, self.speed_mps * pace, self.wake):
                await self.stay(self.rng.uniform(15, 90), self.wake)
        elif distance_m(self.pos, spec.base) > 30:
            await self.go(spec.base, self.speed_mps, self.wake)
        else:
            await self.stay(tempo.report_still_s or 3600.0, self.wake)

    async def _take(self, offer: Offer) -> None:
        if offer.assignment_id in self._ended:
            self._ended.discard(offer.assignment_id)
            self.world.recorder.worked(self.id, offer.received_at, self.world.clock.now())
            return
        self.job, tempo, clock = offer, self.world.tempo, self.world.clock
        self.job_ended.clear()
        seed = self.world.seed_of(offer.incident_id)
        rng = self.rng if seed is None else random.Random(f"{seed}:{self.spec.kind}")
        try:
            if await self.wait(tempo.think(rng), self.job_ended):
                return
            if tempo.declines(rng, offer.priority):
                await self.send({"type": "decline", "assignment_id": offer.assignment_id})
                return
            if (await self.send({"type": "accept", "assignment_id": offer.assignment_id}))["type"] != "ack":
                return
            if await self.wait(tempo.turnout(self.kind.agency), self.job_ended):
                return
            moving = clock.now()
            arrived = await self.go((offer.lat, offer.lon), self.speed_mps, self.job_ended)
            self.world.recorder.drove(self.id, clock.now() - moving)
            if not arrived:
                return
            arrived_at = clock.now()
            if (await self.send({"type": "arrive", "assignment_id": offer.assignment_id}))["type"] != "ack":
                return
            self.world.recorder.arrived(self.id, offer.incident_id, arrived_at)
            await self.stay(tempo.on_scene(rng, self.spec.kind, offer.category))
            if self.spec.kind == "ambulance" and self.world.hospitals and tempo.transports(rng):
                await self.send({"type": "status", "status": "transporting"})
                hospital = min(self.world.hospitals, key=lambda h: distance_m(self.pos, h))
                moving = clock.now()
                await self.go(hospital, self.speed_mps)
                self.world.recorder.drove(self.id, clock.now() - moving)
                await self.stay(tempo.handover(rng))
            await self.send({"type": "clear", "assignment_id": offer.assignment_id})
        finally:
            self.job = None
            self.world.recorder.worked(self.id, offer.received_at, clock.now())

    # -- moving and waiting -----------------------------------------------------------------------

    async def report(self) -> None:
        """Send the current position; fix times only go forward."""
        at = max(self.world.clock.epoch(), self._last_fix + 0.001)
        self._last_fix = at
        lat, lon = self.pos
        await self.send(
            {"type": "position", "lat": round(lat, 7), "lon": round(lon, 7), "at": at}, wait=False
        )

    async def wait(self, sim_s: float, *stop: asyncio.Event) -> bool:
        """Wait ``sim_s`` simulated seconds; True when one of ``stop`` fired first."""
        if any(e.is_set() for e in stop):
            return True
        if not stop:
            await self.world.clock.sleep(sim_s)
            return False
        waiters = [asyncio.ensure_future(e.wait()) for e in stop]
        try:
            done, _ = await asyncio.wait(waiters, timeout=self.world.clock.wall_s(sim_s))
        finally:
            for w in waiters:
                w.cancel()
        return bool(done)

    async def stay(self, sim_s: float, *stop: asyncio.Event) -> bool:
        """Stay put for ``sim_s``, reporting now and then; True when interrupted."""
        clock, every = self.world.clock, self.world.tempo.report_still_s
        end = clock.now() + sim_s
        while (left := end - clock.now()) > 0:
            if await self.wait(min(left, every or left), *stop):
                return True
            if every:
                await self.report()
        return False

    async def go(self, dest: Point, speed_mps: float, *stop: asyncio.Event) -> bool:
        """Drive to ``dest`` by road at ``speed_mps``, or along the road network's fastest route in
        its time where the world has roads; False when stopped on the way (the unit stays where it got
        to)."""
        clock, every = self.world.clock, self.world.tempo.report_moving_s
        start, began = self.pos, clock.now()
        route = self.world.roads.route(self.spec.kind, start, dest) if self.world.roads else None
        path: Sequence[Point] = route.geometry if route else (start, dest)
        duration = route.seconds if route else road_m(start, dest) / speed_mps
        while True:
            done = 1.0 if duration <= 0 else (clock.now() - began) / duration
            self.pos = along(path, done)
            if done >= 1.0:
                await self.report()
                return True
            await self.report()
            if await self.wait(min(every, duration * (1 - done)), *stop):
                self.pos = along(path, (clock.now() - began) / duration if duration else 1.0)
                await self.report()
                return False

"""``dispatch-center up --demo``: the demo city comes alive next to the center.

Runs inside the center's process, owned by its lifespan (started after the center, stopped before it),
and talks to it only as clients do: HTTP and WebSockets on the center's own port, with tokens from the
center's signer. On start it registers the city's units that are not on the roster yet, creates the demo
accounts, then runs the units, a dispatcher desk, the community case workers and a stream of calls and
grid reports by the hour of day.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from center.runtime import Roles, running_center
from center.settings import Settings
from core.roles import Role
from simulation.api import FAILED, Api
from simulation.casework import CaseWork
from simulation.city import City, huangpu
from simulation.clock import SimClock
from simulation.crew import Crew
from simulation.demo_logins import demo_logins
from simulation.desk import Desk
from simulation.fleet import Fleet, register
from simulation.profile import CallMaker
from simulation.roster import demo_roster
from simulation.tempo import DEMO
from simulation.unit import World
from simulation.watch import OpsWatch
from web.services import Services

log = logging.getLogger(__name__)

SEED = 8
FIRST_CALL_AFTER_S = 3.0  # the units are on line by then
MAX_SLEEP_S = 600.0


def local_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def demo_center(
    settings: Settings, roles: Roles, host: str, port: int
) -> Callable[[], AbstractAsyncContextManager[Services]]:
    """What ``up --demo`` serves: the center, with the demo city beside it (which must know the port)."""
    if port == 0:
        log.warning("the demo city needs a fixed port (--port): it does not run on port 0")
        return lambda: running_center(settings, roles)
    url = local_url(host, port)
    return lambda: with_demo(running_center(settings, roles), settings, url)


@asynccontextmanager
async def with_demo(
    center: AbstractAsyncContextManager[Services], settings: Settings, url: str
) -> AsyncIterator[Services]:
    """The center with the demo city running beside it; the demo stops first."""
    async with center as services, running_demo(services, settings, url):
        yield services


@asynccontextmanager
async def running_demo(services: Services, settings: Settings, url: str) -> AsyncIterator[None]:
    api = Api(url, services.signer)
    crew = Crew()
    crew.start("demo", lambda: _run(services, settings, api, crew))
    try:
        yield
    finally:
        await crew.stop()
        await api.close()


async def _run(services: Services, settings: Settings, api: Api, crew: Crew) -> None:
    await api.wait_ready(timeout_s=300)
    if settings.demo_city == "baltimore":
        from simulation.baltimore import run_baltimore

        await run_baltimore(services, api, crew, settings.data_dir)
        return
    city = huangpu()
    specs = demo_roster(city, SEED)
    known = await register(api, specs)
    logins = await demo_logins(services, api, settings.data_dir, grid_area=city.communities[0].area)
    world = World(api, SimClock(1.0), DEMO, services.kinds, [h.point for h in city.hospitals])
    fleet = Fleet(world, specs, known, SEED)
    watch = OpsWatch(api)
    desk = Desk(api, world.clock, random.Random(SEED))
    cases = CaseWork(api, world.clock, random.Random(SEED + 1))
    watch.listeners += [desk.on_frame, cases.on_frame]
    for name, work in (("ops-watch", watch.run), ("desk", desk.run), ("casework", cases.run)):
        crew.start(f"demo-{name}", work)
    fleet.start(crew)
    print(f"demo city: {city.name} ({city.name_zh}), {len(city.towns)} subdistricts, "
          f"{len(city.communities)} communities, {len(city.cells)} grid cells, {len(fleet.units)} units; "
          f"about {settings.demo_calls_per_hour:g} calls and grid reports an hour at the busiest hours. "
          f"Open {api.base_url}/wall", flush=True)  # fmt: skip
    print(logins, flush=True)  # last of the start, in a block of its own
    await _calls(api, world.clock, city, settings)


async def _calls(api: Api, clock: SimClock, city: City, settings: Settings) -> None:
    """Calls and grid reports, a Poisson stream by the hour of day in the jurisdiction's time zone."""
    maker = CallMaker(city, random.Random())  # not seeded: call ids must differ from the last start's
    zone = ZoneInfo(settings.timezone)
    await clock.sleep(FIRST_CALL_AFTER_S)
    while True:
        hour = datetime.now(zone).hour
        if settings.demo_calls_per_hour > 0:
            call = maker.make(hour)
            try:
                if call.grid_reporter:
                    await api.request(
                        "POST",
                        call.path,
                        Role.GRID_WORKER,
                        call.body,
                        subject=f"community-{call.grid_reporter}",
                        area=call.grid_reporter,
                    )
                else:
                    await api.request("POST", call.path, Role.CALL_TAKER, call.body)
            except FAILED as exc:
                log.warning("demo call not taken: %s", exc)
        await clock.sleep(min(maker.next_gap_s(settings.demo_calls_per_hour, hour), MAX_SLEEP_S))

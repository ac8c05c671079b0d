"""``up --demo --city baltimore``: the real Baltimore police calls of 18 July 2017 replayed on the real
streets, at the day's own pace, against patrol cars that drive along their road routes.

The center ranks by road on the shipped extract (the CLI sets ``DISPATCH_ROADS_FILE`` to it), so a
newcomer sees streets, road routes and road-following assignment lines on the wall at once. The calls
are posted at their real times of day in a loop (the whole 13:16-23:51 stretch, then again); the crews
behave as in the Huangpu demo (they sometimes decline, time on scene is shortened tenfold).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from core.roles import Role
from simulation.api import FAILED, Api
from simulation.calls import BALTIMORE_FILE, map_call, read_calls
from simulation.clock import SimClock
from simulation.crew import Crew
from simulation.demo_logins import demo_logins
from simulation.desk import Desk
from simulation.fleet import Fleet, register
from simulation.stations import replay_fleet
from simulation.tempo import DEMO
from simulation.unit import World
from simulation.watch import OpsWatch
from web.services import Services

log = logging.getLogger(__name__)

PATROL_CARS = 15  # a few per district of the extract (south-east, east, central)
SEED = 8
PAUSE_BETWEEN_DAYS_S = 60.0


async def run_baltimore(services: Services, api: Api, crew: Crew, data_dir: Path) -> None:
    """Register the fleet (once), run the crews and a dispatcher desk, then post the calls forever."""
    calls = read_calls(BALTIMORE_FILE)
    specs, _ = replay_fleet(calls, PATROL_CARS, prefix="BAL")
    known = await register(api, specs)
    logins = await demo_logins(services, api, data_dir)
    world = World(api, SimClock(1.0), DEMO, services.kinds, [], roads=services.roads)
    fleet = Fleet(world, specs, known, SEED)
    watch = OpsWatch(api)
    desk = Desk(api, world.clock, random.Random(SEED))
    watch.listeners.append(desk.on_frame)
    crew.start("demo-ops-watch", watch.run)
    crew.start("demo-desk", desk.run)
    fleet.start(crew)
    print(f"demo city: Baltimore (east and south-east), {len(calls)} real calls of 18 July 2017 at their "
          f"times of day, {len(fleet.units)} patrol cars on the real streets. Open {api.base_url}/wall",
          flush=True)  # fmt: skip
    print(logins, flush=True)  # last of the start, in a block of its own
    day = 0
    while True:
        previous = calls[0].at
        for call in calls:
            await world.clock.sleep((call.at - previous).total_seconds())
            previous = call.at
            mapped = map_call(call.title, {}, call.priority)
            body = {"channel": mapped.channel, "category": mapped.category, "priority": mapped.priority,
                    "location": {"lat": call.lat, "lon": call.lon, "address": call.address},
                    "description": call.title,
                    "call_id": f"bal-{day}-{call.index}-{random.getrandbits(32):x}"}  # fmt: skip
            try:
                await api.request("POST", "/api/v1/alerts", Role.CALL_TAKER, body)
            except FAILED as exc:
                log.warning("demo call not taken: %s", exc)
        day += 1
        await world.clock.sleep(PAUSE_BETWEEN_DAYS_S)

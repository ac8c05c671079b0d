"""A unit is never on two active assignments. A hypothesis state machine drives the public API (calls,
a unit's acknowledgements and status, a dispatcher's overrides, cancels, reassigns and closes, offers
left to lapse) while the center's own dispatcher tasks and two `dispatch-center worker` processes
handle the queued calls at the same time over the same stores; PostgreSQL and Redis are read directly
after every step."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from center.runtime import Roles
from core.roles import Role
from tests.conftest import SECRET, Center, Stores, center_settings, serving, wipe

T = TypeVar("T")
# A fixed amount of work, whatever the machine's speed: 65 runs of up to 200 steps. Hypothesis ends a
# run early only when its choice buffer fills, so the total is 11,000 to 12,600 steps; it takes 2.5 to 3
# minutes on an idle 2-core machine and about twice that on a loaded one. The trade-off: fewer steps would
# keep the suite shorter but find fewer interleavings; 10,000 steps is the floor this test promises, and
# its timeout is generous so that a slow machine only makes it slower, never failing.
EXAMPLES, STEPS = 65, 200
MIN_STEPS = 10_000
TIMEOUT_S = 1500
FLEET = 10
ACTIVE = ["offered", "accepted", "en_route", "on_scene"]
UNIT_STATUS_OF = {"accepted": "en_route", **{s: s for s in ("offered", "en_route", "on_scene")}}
NEXT = {"offered": "accept", "accepted": "arrive", "on_scene": "clear"}  # a unit's next step on an assignment
DISPATCHABLE = {"available", "returning"}
GEO = "{units}:avail:patrol_car"
SPOT = st.tuples(st.integers(-12, 12), st.integers(-12, 12))  # 100 m cells of a run's own 2.5 km square
PICK = st.integers(0, 63)
UNIT = st.integers(0, FLEET - 1)

# these units, each with its active assignment if it has one
SNAPSHOT = """
    select u.id, u.status, u.status_version as v, a.id as aid, a.status as astatus
    from units u left join assignments a on a.unit_id = u.id and a.status = any($1::text[])
    where u.id = any($2::bigint[])"""
# what a run leaves to stand down: its units' active assignments, and its units on duty
LEFT = """
    select 'assignment' as what, id, status from assignments where status = any($2) and unit_id = any($1)
    union all select 'unit', id, status from units where id = any($1::bigint[]) and status <> 'off_duty'"""


class Env:
    """The center on an event loop of its own thread (hypothesis' state machine is synchronous), the
    test's clients of it and of both stores on that loop, and the worker processes."""

    def __init__(self, stores: Stores, logs: Path) -> None:
        self.stores, self.logs = stores, logs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="center-loop", daemon=True)
        self.thread.start()
        self.center_stack = AsyncExitStack()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.tokens: dict[tuple[Role, int | None], dict[str, str]] = {}
        self.log = logging.FileHandler(logs / "center.log")  # this process's dispatcher tasks that die
        logging.getLogger("center.runtime").addHandler(self.log)
        self.run(wipe(stores))
        self.db = self.run(asyncpg.connect(stores.database_url))
        self.redis = aioredis.Redis.from_url(stores.redis_url)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        """The center in this process (two dispatcher tasks and the scheduler), and two worker
        processes of two dispatcher tasks each, one with the scheduler too."""
        config = center_settings(self.stores, data_dir=self.logs, dispatcher_tasks=2)
        self.center: Center = self.run(self.center_stack.enter_async_context(serving(config, Roles())))
        # idle connections are dropped before the server's keep-alive (5 s) could close them under a request
        client = httpx.AsyncClient(base_url=self.center.url, limits=httpx.Limits(keepalive_expiry=2))
        self.http = self.run(self.center_stack.enter_async_context(client))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
            "DISPATCH_DATA_DIR": str(self.logs), "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_LOG_LEVEL": "ERROR",
            "DISPATCH_REDIS_URL": self.stores.redis_url, "DISPATCH_DATABASE_URL": self.stores.database_url,
        }  # fmt: skip
        for i in range(2):
            command = [sys.executable, "-m", "center.cli", "worker", *(["--scheduler"] if i == 0 else [])]
            with (self.logs / f"worker-{i}.log").open("ab") as out:
                self.workers.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        self.run(self.joined({f"{socket.gethostname()}-{w.pid}-0" for w in self.workers}))

    async def joined(self, names: set[str]) -> None:
        """Each worker process has joined the dispatchers' consumer group."""
        for _ in range(300):
            found = [c["name"] for c in await self.redis.xinfo_consumers("{alerts}:p1", "dispatchers")]
            if names <= {n.decode() if isinstance(n, bytes) else n for n in found}:
                return
            assert all(w.poll() is None for w in self.workers), "a worker exited during start"
            await asyncio.sleep(0.1)
        raise AssertionError(f"workers {names} never read the queue")

    def stop(self) -> list[int]:
        """SIGTERM to each worker, then wait for it (their exit codes); and the center here stops."""
        try:
            for w in self.workers:
                w.send_signal(signal.SIGTERM)
            return [w.wait(20) for w in self.workers]
        finally:
            for w in self.workers:
                w.kill()  # a no-op for those that stopped
                w.wait()
            self.workers.clear()
            self.run(self.center_stack.aclose())

    def close(self) -> None:
        logging.getLogger("center.runtime").removeHandler(self.log)
        self.log.close()
        self.run(self.db.close())
        self.run(self.redis.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def crashes(self) -> list[str]:
        """Dispatcher tasks that died, in this process or a worker, each with its exception."""
        logs = "".join(p.read_text() for p in sorted(self.logs.glob("*.log")))
        found = re.findall(r"^(.* crashed)\n(?:(?:Traceback|\s|During|The above).*\n|\n)*(.+)$", logs, re.M)
        return [f"{task}: {error}" for task, error in found]

    async def request(self, what: str, path: str, role: Role, unit: int | None, body: Any) -> httpx.Response:
        if (role, unit) not in self.tokens:
            self.tokens[role, unit] = {"Authorization": f"Bearer {self.center.token(role, unit)}"}
        return await self.http.request(what, path, json=body, headers=self.tokens[role, unit])

    def call(self, what: str, path: str, role: Role, unit: int | None = None, **body: Any) -> httpx.Response:
        return self.run(self.request(what, path, role, unit, body or None))

    async def all(self, *requests: Awaitable[httpx.Response]) -> list[httpx.Response]:
        return await asyncio.gather(*requests)

    async def check(self, units: list[int], quiet: bool = False) -> list[str]:
        """What must hold at every instant, whatever the dispatchers are doing; and, ``quiet`` (once
        they are), that Redis agrees with PostgreSQL about every unit's status and place in the index."""
        problems = []
        before = await self.db.fetch(SNAPSHOT, ACTIVE, units)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrange(GEO, 0, -1)
        for u in units:
            pipe.hget(f"{{units}}:u:{u}", "status")
        geo_raw, *statuses = await pipe.execute()
        after = await self.db.fetch(SNAPSHOT, ACTIVE, units)
        geo = {int(m.decode().rsplit(":", 1)[1]) for m in geo_raw}
        live = {u: s and s.decode() for u, s in zip(units, statuses, strict=True)}
        # PostgreSQL, one snapshot: one active assignment per unit, and the unit's status follows it
        on: dict[int, tuple[int, str, int]] = {}
        for r in before:
            if quiet and (live[r["id"]] != r["status"] or (r["status"] in DISPATCHABLE) != (r["id"] in geo)):
                problems.append(f"unit {r['id']} is {r['status']}, {live[r['id']]} in Redis, in the index: "
                                f"{r['id'] in geo}")  # fmt: skip
            if r["aid"] is None:
                if r["status"] in UNIT_STATUS_OF.values():
                    problems.append(f"unit {r['id']} is {r['status']} with no active assignment")
                continue
            if r["id"] in on:
                problems.append(f"unit {r['id']} on two active assignments: {on[r['id']][0]} and {r['aid']}")
            on[r["id"]] = (r["aid"], r["astatus"], r["v"])
            if r["status"] != UNIT_STATUS_OF[r["astatus"]]:
                problems.append(f"unit {r['id']} is {r['status']} on {r['astatus']} assignment {r['aid']}")
        # a claim takes a unit out of the index before PostgreSQL commits it, and a freed unit enters the
        # index only after: a unit on the same assignment (same status version) in both readings around
        # the Redis one was on it at that instant too, and must not have been in the index
        still = {r["id"]: (r["aid"], r["astatus"], r["v"]) for r in after if r["aid"] is not None}
        for unit_id in geo:
            if unit_id in on and still.get(unit_id) == on[unit_id]:
                problems.append(f"unit {unit_id} is in the index of free units while on {on[unit_id][:2]}")
        return problems

    async def story(self, problems: list[str]) -> list[str]:
        """The last events of the units named in these problems, oldest first."""
        rows = await self.db.fetch(
            """select * from (select id, unit_id, kind, actor, assignment_id, incident_id,
                      coalesce(data->>'from' || ' -> ' || (data->>'to'), '') as change
               from events where unit_id = any($1::bigint[]) order by id desc limit 16) e order by id""",
            sorted({int(u) for u in re.findall(r"unit (\d+)", " ".join(problems))}),
        )  # fmt: skip
        return [f"  unit {r['unit_id']}: {r['kind']} {r['change']} by {r['actor']} (assignment "
                f"{r['assignment_id']}, incident {r['incident_id']})" for r in rows]  # fmt: skip

    async def settled(self, alerts: list[int], incidents: list[int], units: list[int]) -> None:
        """Once the dispatchers are quiet: every call was handled and none of its incidents was left
        unserved; and Redis agrees with PostgreSQL about every unit, its status and its index."""
        deadline = time.monotonic() + 20
        while left := await self.db.fetchval(
            """select (select count(*) from alerts where id = any($1::bigint[]) and handled_at is null)
                    + (select count(*) from incidents where id = any($2) and status = 'received')""",
            alerts, incidents,
        ):  # fmt: skip
            assert time.monotonic() < deadline, f"{left} calls or incidents never handled"
            await asyncio.sleep(0.02)
        while diff := await self.check(units, quiet=True):
            assert time.monotonic() < deadline, diff
            await asyncio.sleep(0.05)

    async def stand_down(self, units: list[int], incidents: list[int], rounds: int) -> list[str]:
        """End a run: its incidents closed in PostgreSQL first (through the API a freed unit would be
        offered a waiting incident again at once), then through the API its assignments cancelled or
        cleared and its units off duty. What could not be stood down."""
        await self.db.execute(
            """update incidents set status = 'closed', closed_at = now(), close_reason = 'end of test run'
               where id = any($1::bigint[]) and closed_at is null""", incidents,
        )  # fmt: skip
        for _ in range(rounds):
            if not (left := await self.db.fetch(LEFT, units, ACTIVE)):
                return []
            steps = [(f"units/{r['id']}/status", {"status": "off_duty"}) if r["what"] == "unit" else
                     (f"assignments/{r['id']}/{'clear' if r['status'] == 'on_scene' else 'cancel'}", None)
                     for r in left]  # fmt: skip
            await self.all(
                *(self.request("POST", f"/api/v1/{p}", Role.DISPATCHER, None, b) for p, b in steps)
            )
        return [f"{r['what']} {r['id']} {r['status']}" for r in await self.db.fetch(LEFT, units, ACTIVE)]


class NoDoubleAssignment(RuleBasedStateMachine):
    env: ClassVar[Env]
    runs: ClassVar[int] = 0
    steps: ClassVar[int] = 0
    failed: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        NoDoubleAssignment.runs += 1
        self.origin = (31.2350, 100.0 + 0.4 * (self.runs % 100))  # 40 km from the previous run's area
        self.units: list[int] = []
        self.homes: list[tuple[int, int]] = []
        self.incidents: list[int] = []
        self.alerts: list[int] = []
        self.count = 0
        self.problem: str | None = None
        self.crashed = set(self.env.crashes())
        self.crash_seen: str | None = None

    def place(self, x: float, y: float) -> dict[str, float]:
        lat = self.origin[0] + y * 100 / 111_320
        return {"lat": lat, "lon": self.origin[1] + x * 100 / (111_320 * math.cos(math.radians(lat)))}

    def step(self) -> Env:
        NoDoubleAssignment.steps += 1
        self.count += 1
        return self.env

    def fail(self, kind: str, message: str) -> None:
        """The run fails at once; a line per kind, so that hypothesis tells them apart (and shrinks each)."""
        self.problem = f"after step {self.count} of run {self.runs}: {message}"
        if not NoDoubleAssignment.failed:  # the first as found, however hypothesis' replays go
            NoDoubleAssignment.failed = True
            print(self.problem, file=sys.stderr)
        assert kind != "invariant", self.problem
        assert kind != "crash", self.problem
        raise AssertionError(self.problem)

    def died(self) -> list[str]:
        """Dispatcher tasks that died since this run began."""
        return [c for c in self.env.crashes() if c not in self.crashed]

    def expect(self, reply: httpx.Response, *codes: int) -> bool:
        if reply.status_code not in codes:
            self.fail("answer", f"{reply.request.url.path}: {reply.status_code} {reply.text}")
        return True

    def assignments(self, statuses: list[str]) -> list[int]:
        ids: list[int] = self.env.run(self.env.db.fetchval(
            """select coalesce(array_agg(id order by id), '{}') from assignments
               where unit_id = any($1::bigint[]) and status = any($2::text[])""", self.units, statuses,
        ))  # fmt: skip
        return ids

    @initialize(spots=st.lists(SPOT, min_size=FLEET, max_size=FLEET))
    def fleet(self, spots: list[tuple[int, int]]) -> None:
        """A fleet of patrol cars at random points of this run's area, all available."""
        if env := self.step():
            new = [env.request("POST", "/api/v1/units", Role.ADMIN, None, {"callsign": f"T{self.runs}-{i}",
                   "kind": "patrol_car", "status": "available"}) for i in range(FLEET)]  # fmt: skip
            for reply in env.run(env.all(*new)):
                assert reply.status_code == 201, reply.text
                self.units.append(reply.json()["id"])
            self.homes = spots
            env.run(env.all(*(self.move(i, 0, 0) for i in range(FLEET))))

    @rule(category=st.sampled_from(["assault", "fight", "robbery_in_progress"]), spot=SPOT,
          priority=st.sampled_from([None, 1, 2, 3]))  # fmt: skip
    def call_in(self, category: str, spot: tuple[int, int], priority: int | None) -> None:
        """A call whose plan asks for one or two patrol cars, sent automatically."""
        if env := self.step():
            self.new_call(env, category, spot, priority)

    def new_call(self, env: Env, category: str, spot: tuple[int, int], priority: int | None) -> int:
        reply = env.call("POST", "/api/v1/alerts", Role.CALL_TAKER, channel="110", category=category,
                         priority=priority, location=self.place(*spot))  # fmt: skip
        self.expect(reply, 202)
        self.alerts.append(reply.json()["alert_id"])
        if (incident_id := reply.json()["incident_id"]) not in self.incidents:
            self.incidents.append(incident_id)
        return int(incident_id)

    @rule(unit=UNIT, action=st.sampled_from(["next", "next", "decline", "accept", "arrive", "clear"]))
    def unit_acts(self, unit: int, action: str) -> None:
        """The unit moves its active (else its latest) assignment a step on; an illegal step is a 409."""
        if not (env := self.step()):
            return
        row = env.run(env.db.fetchrow(
            """select id, status from assignments where unit_id = $1
               order by status = any($2::text[]) desc, id desc limit 1""", self.units[unit], ACTIVE,
        ))  # fmt: skip
        if row is not None:
            action = NEXT.get(row["status"], "accept") if action == "next" else action
            reply = env.call("POST", f"/api/v1/assignments/{row['id']}/{action}", Role.UNIT, self.units[unit])
            self.expect(reply, 200, 409)

    @rule(unit=UNIT, status=st.sampled_from(["available", "available", "off_duty", "out_of_service"]))
    def unit_reports(self, unit: int, status: str) -> None:
        if env := self.step():
            unit_id = self.units[unit]
            reply = env.call("POST", f"/api/v1/units/{unit_id}/status", Role.UNIT, unit_id, status=status)
            self.expect(reply, 200, 409)

    @rule(unit=UNIT, dx=st.integers(-4, 4), dy=st.integers(-4, 4))
    def unit_moves(self, unit: int, dx: int, dy: int) -> None:
        if env := self.step():
            env.run(self.move(unit, dx, dy))

    async def move(self, unit: int, dx: int, dy: int) -> httpx.Response:
        """A fix within 60 m of the unit's home on each axis: never far enough to be an implausible jump."""
        (x, y), unit_id = self.homes[unit], self.units[unit]
        here = self.place(x + dx * 0.15, y + dy * 0.15)
        reply = await self.env.request("PUT", f"/api/v1/units/{unit_id}/location", Role.UNIT, unit_id, here)
        if self.expect(reply, 200) and reply.json()["verdict"] not in ("ok", "old"):
            self.fail("answer", f"unit {unit_id} jumped: {reply.text}")
        return reply

    @rule(unit=UNIT, incident=PICK)
    def dispatcher_sends(self, unit: int, incident: int) -> None:
        """An override: any unit, free or not, to any of this run's incidents, open or not."""
        if (env := self.step()) and self.incidents:
            path = f"/api/v1/incidents/{self.incidents[incident % len(self.incidents)]}/assignments"
            self.expect(env.call("POST", path, Role.DISPATCHER, unit_ids=[self.units[unit]]), 201, 409)

    @rule(spot=SPOT)
    def dispatcher_closes_new_call(self, spot: tuple[int, int]) -> None:
        """A call closed at once (a prank, a duplicate) while a dispatcher process may be sending to it."""
        if env := self.step():
            path = f"/api/v1/incidents/{self.new_call(env, 'assault', spot, None)}/close"
            self.expect(env.call("POST", path, Role.DISPATCHER), 200, 409)

    @rule(pick=PICK)
    def dispatcher_cancels(self, pick: int) -> None:
        if (env := self.step()) and (running := self.assignments(ACTIVE)):
            path = f"/api/v1/assignments/{running[pick % len(running)]}/cancel"
            self.expect(env.call("POST", path, Role.DISPATCHER), 200, 409)

    @rule(pick=PICK, unit=UNIT)
    def dispatcher_reassigns(self, pick: int, unit: int) -> None:
        if (env := self.step()) and (running := self.assignments(ACTIVE)):
            path = f"/api/v1/assignments/{running[pick % len(running)]}/reassign"
            self.expect(env.call("POST", path, Role.DISPATCHER, unit_id=self.units[unit]), 200, 409)

    @rule(incident=PICK)
    def dispatcher_closes(self, incident: int) -> None:
        if (env := self.step()) and self.incidents:
            path = f"/api/v1/incidents/{self.incidents[incident % len(self.incidents)]}/close"
            self.expect(env.call("POST", path, Role.DISPATCHER), 200, 409)

    @rule(pick=PICK)
    def offer_lapses(self, pick: int) -> None:
        """An offer's deadline passes (the clock moves on); the schedulers withdraw it when they wake."""
        if (env := self.step()) and (offered := self.assignments(["offered"])):
            env.run(env.db.execute(
                """update assignments set offer_deadline = now() - interval '1 second'
                   where id = $1 and status = 'offered'""", offered[pick % len(offered)],
            ))  # fmt: skip

    @invariant()
    def one_assignment_per_unit(self) -> None:
        if problems := self.env.run(self.env.check(self.units)):
            story = self.env.run(self.env.story(problems))
            self.fail("invariant", "\n".join([*problems, "their last events:", *story]))
        # a dispatcher task that died: the run fails at its end, as the moment it is seen is chance
        if self.crash_seen is None and (crashes := self.died()):
            self.crash_seen = f"a dispatcher task died, seen after step {self.count}: " + "\n".join(crashes)

    def teardown(self) -> None:
        """The stronger checks once the dispatchers are quiet; then the run stands down, so that the
        next one starts from nothing (a failed run may leave what cannot: a few rounds then)."""
        env, failed, end = self.env, self.problem is not None, None
        try:
            if not failed:
                env.run(env.settled(self.alerts, self.incidents, self.units))
        except AssertionError as exc:
            end = str(exc)
        left = env.run(env.stand_down(self.units, self.incidents, 3 if failed or end else 30))
        if crashes := self.died():
            env.stop()  # every dispatcher anew, so that the next run has them all
            env.start()
            if not failed:
                self.fail("crash", self.crash_seen or "a dispatcher task died: " + "\n".join(crashes))
        if end:
            self.fail("end", end)
        if left and not failed:
            self.fail("stand down", f"this run's units could not be stood down: {left}")


@pytest.fixture
def env(stores: Stores, tmp_path: Path) -> Iterator[Env]:
    env = Env(stores, tmp_path)
    try:
        env.start()
        yield env
    finally:
        env.stop()
        env.close()


@pytest.mark.timeout(TIMEOUT_S)
def test_no_unit_is_ever_on_two_active_assignments(env: Env) -> None:
    started = time.monotonic()
    NoDoubleAssignment.env = env
    NoDoubleAssignment.runs = NoDoubleAssignment.steps = 0
    NoDoubleAssignment.failed = False
    run_state_machine_as_test(
        NoDoubleAssignment,
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        ),
    )  # fmt: skip
    assert all(w.poll() is None for w in env.workers), "a worker process died"
    assert env.stop() == [0, 0]
    assert not env.crashes()
    # all quiet: every unit of every run, live and committed, agree
    env.run(env.settled([], [], env.run(env.db.fetchval("select array_agg(id) from units"))))
    took = time.monotonic() - started
    print(f"\n{NoDoubleAssignment.steps} steps in {NoDoubleAssignment.runs} runs, {took:.0f} s")
    # a count, not a rate: how long the steps took does not matter
    assert NoDoubleAssignment.steps >= MIN_STEPS, f"hypothesis ran only {NoDoubleAssignment.steps} steps"

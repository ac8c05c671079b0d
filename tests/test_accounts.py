"""Accounts: login with a password for a token of the account's role, lockout after repeated wrong
passwords, `dispatch-center users add`, demo accounts, and an event with its actor for every write."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from accounts.demo_accounts import FILE_NAME, create_demo_accounts, demo_table
from accounts.users import NewUser, UserStore
from center.connections import open_pool
from core.errors import Conflict, Invalid
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe
from tests.helpers import add_unit
from web.routes.login import WRONG

LOCK_S = 1.5
PASSWORD = "correct horse battery"


@dataclass
class Accounts:
    center: Center
    users: UserStore
    pool: asyncpg.Pool
    stores: Stores

    async def login(self, username: str, password: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.center.url, timeout=10) as client:
            return await client.post("/api/v1/login", json={"username": username, "password": password})

    async def events(self, kind: str) -> list[asyncpg.Record]:
        return await self.pool.fetch("select * from events where kind = $1 order by id", kind)


@pytest.fixture
async def accounts(stores: Stores, tmp_path: Path) -> AsyncIterator[Accounts]:
    """A fresh center whose accounts lock for LOCK_S seconds after 5 wrong passwords."""
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path, login_lock_s=LOCK_S, login_max_failures=5)
    async with serving(settings) as center:
        pool = await open_pool(stores.database_url, min_size=1, max_size=2)
        try:
            yield Accounts(center, UserStore(pool, 5, LOCK_S), pool, stores)
        finally:
            await pool.close()


async def test_login_good_bad_and_unknown(accounts: Accounts) -> None:
    """The right password gets a token of the account's role; a wrong one and an unknown name get the
    same 401."""
    await accounts.users.create(NewUser("Alice", Role.DISPATCHER, PASSWORD, "Alice Wang"), "test:setup")
    good = await accounts.login("alice", PASSWORD)
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == accounts.center.settings.login_token_ttl_s
    assert body["user"] == {"username": "alice", "display_name": "Alice Wang", "role": "dispatcher",
                            "unit_id": None, "level": None, "area": None}  # fmt: skip
    who = accounts.center.signer.verify(body["token"])
    assert (who.subject, who.role) == ("alice", Role.DISPATCHER)

    wrong = await accounts.login("alice", PASSWORD + "!")
    unknown = await accounts.login("nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": WRONG, "field": None, "problems": []}
    assert (await accounts.login("ALICE", PASSWORD)).status_code == 200  # names are not case-sensitive


async def test_login_refuses_bad_bodies(accounts: Accounts) -> None:
    """Unknown fields, missing fields and wrong types are 422 and count as no attempt."""
    async with httpx.AsyncClient(base_url=accounts.center.url) as client:
        for body in ({"username": "a"}, {"username": "a", "password": "b", "extra": 1},
                     {"username": 1, "password": "b"}):  # fmt: skip
            assert (await client.post("/api/v1/login", json=body)).status_code == 422
    assert await accounts.events("user.login_failed") == []


async def test_token_from_login_works_on_routes(accounts: Accounts) -> None:
    """A unit's login token carries its unit id: it reports its own position and is refused elsewhere."""
    unit_id = await add_unit(accounts.center, "P-1")
    await accounts.users.create(NewUser("p1", Role.UNIT, PASSWORD, unit_id=unit_id), "test:setup")
    token = (await accounts.login("p1", PASSWORD)).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=accounts.center.url, headers=headers) as unit:
        me = (await unit.get("/api/v1/me")).json()
        assert me == {"subject": "p1", "role": "unit", "unit_id": unit_id, "level": None, "area": None,
                      "actor": "unit:p1"}  # fmt: skip
        fix = await unit.put(f"/api/v1/units/{unit_id}/location", json={"lat": 31.2, "lon": 121.4})
        assert fix.status_code == 200 and fix.json()["verdict"] == "ok"
        assert (await unit.put(f"/api/v1/units/{unit_id + 1}/location", json={"lat": 31.2, "lon": 121.4})
                ).status_code == 403  # fmt: skip
        assert (await unit.get("/api/v1/incidents")).status_code == 403
    async with httpx.AsyncClient(base_url=accounts.center.url) as anonymous:
        assert (await anonymous.get("/api/v1/me")).status_code == 401


async def test_grid_worker_token_carries_ladder_seat(accounts: Accounts) -> None:
    """A grid worker's login token names their level and area, which the grid-case routes use."""
    seat = NewUser("gw1", Role.GRID_WORKER, PASSWORD, level="community", area="T1/C1")
    await accounts.users.create(seat, "test:setup")
    token = (await accounts.login("gw1", PASSWORD)).json()["token"]
    who = accounts.center.signer.verify(token)
    assert (who.role, who.level, who.area) == (Role.GRID_WORKER, "community", "T1/C1")
    async with httpx.AsyncClient(base_url=accounts.center.url,
                                 headers={"Authorization": f"Bearer {token}"}) as worker:  # fmt: skip
        assert (await worker.get("/api/v1/cases")).status_code == 200  # their own seat's queue


async def test_lockout_after_five_failures_and_unlock(accounts: Accounts) -> None:
    """Five wrong passwords in a row lock the account (423 with when it opens, even for the right
    password); after the lock time the right password works, and a good login resets the count."""
    await accounts.users.create(NewUser("bob", Role.CALL_TAKER, PASSWORD), "test:setup")
    for _ in range(4):
        assert (await accounts.login("bob", "wrong-password")).status_code == 401
    fifth = await accounts.login("bob", "wrong-password")
    assert fifth.status_code == 423, fifth.text
    assert fifth.json()["locked_until"] and 1 <= int(fifth.headers["Retry-After"]) <= LOCK_S + 1
    assert (await accounts.login("bob", PASSWORD)).status_code == 423  # not even the right one
    assert (await accounts.login("bob", "wrong-password")).status_code == 423  # no count while locked

    await asyncio.sleep(LOCK_S + 0.2)
    assert (await accounts.login("bob", PASSWORD)).status_code == 200
    # the good login reset the count: four more wrong ones are not yet a lock, and the right one works
    for _ in range(4):
        assert (await accounts.login("bob", "wrong-password")).status_code == 401
    assert (await accounts.login("bob", PASSWORD)).status_code == 200
    for _ in range(4):
        assert (await accounts.login("bob", "wrong-password")).status_code == 401
    assert (await accounts.login("bob", PASSWORD)).status_code == 200


async def test_every_write_is_an_event_with_its_actor(accounts: Accounts) -> None:
    """Creating, failing, locking and logging in are recorded with who did it."""
    await accounts.users.create(NewUser("carol", Role.DISPLAY, PASSWORD), "admin:root")
    for _ in range(5):
        await accounts.login("carol", "not-her-password")
    await accounts.login("mallory", "guess-guess")
    await accounts.users.set_password("carol", "a brand new password", "admin:root")
    assert (await accounts.login("carol", "a brand new password")).status_code == 200
    await accounts.users.disable("carol", "admin:root")
    assert (await accounts.login("carol", "a brand new password")).json()["error"] == WRONG

    [created] = await accounts.events("user.created")
    assert created["actor"] == "admin:root" and created["data"]["username"] == "carol"
    assert created["data"]["role"] == "display" and "password" not in str(dict(created["data"]))
    failed = await accounts.events("user.login_failed")
    assert [e["data"].get("failures") for e in failed[:5]] == [1, 2, 3, 4, 5]
    assert failed[5]["data"]["username"] == "mallory" and failed[5]["data"]["reason"] == "unknown user"
    assert failed[6]["data"]["reason"] == "disabled"
    assert all(e["actor"] == "anonymous" and e["data"]["client"] == "127.0.0.1" for e in failed)
    [locked] = await accounts.events("user.locked")
    assert locked["actor"] == "system:login" and locked["data"]["username"] == "carol"
    [changed] = await accounts.events("user.password_changed")
    assert changed["actor"] == "admin:root"
    [logged_in] = await accounts.events("user.logged_in")
    assert logged_in["actor"] == "display:carol"
    [disabled] = await accounts.events("user.disabled")
    assert disabled["actor"] == "admin:root"
    row = await accounts.pool.fetchrow("select * from users where username = 'carol'")
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    assert row["disabled_at"] is not None and row["last_login_at"] is not None


async def test_bad_accounts_are_refused(accounts: Accounts) -> None:
    """A unit account needs an existing unit, an area needs a level, names are unique, passwords long."""
    unit_id = await add_unit(accounts.center, "P-2")
    bad = [
        NewUser("u1", Role.UNIT, PASSWORD),
        NewUser("u2", Role.UNIT, PASSWORD, unit_id=unit_id + 100),
        NewUser("d1", Role.DISPATCHER, PASSWORD, unit_id=unit_id),
        NewUser("g1", Role.GRID_WORKER, PASSWORD, area="T1/C1"),
        NewUser("g2", Role.GRID_WORKER, PASSWORD, level="community", area="T1"),
        NewUser("g3", Role.DISPLAY, PASSWORD, level="town", area="T1"),
        NewUser("bad name", Role.ADMIN, PASSWORD),
        NewUser("short", Role.ADMIN, "1234567"),
    ]
    for new in bad:
        with pytest.raises(Invalid):
            await accounts.users.create(new, "test:setup")
    await accounts.users.create(NewUser("taken", Role.ADMIN, PASSWORD), "test:setup")
    with pytest.raises(Conflict):
        await accounts.users.create(NewUser("Taken", Role.DISPATCHER, PASSWORD), "test:setup")
    assert await accounts.pool.fetchval("select count(*) from users") == 1


async def run_cli(
    stores: Stores, *args: str, stdin: str, data_dir: Path | None = None
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url}
    if data_dir is not None:
        env["DISPATCH_DATA_DIR"] = str(data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "center.cli", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_users_add_reads_the_password_from_stdin(accounts: Accounts) -> None:
    """`dispatch-center users add` creates an account whose password came on stdin; the name is unique."""
    code, out, err = await run_cli(
        accounts.stores, "users", "add", "dora", "--role", "grid_worker", "--level", "town", "--area", "T1",
        "--display-name", "Dora Li", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert "created grid_worker dora" in out
    reply = await accounts.login("dora", PASSWORD)
    assert reply.status_code == 200 and reply.json()["user"]["level"] == "town"
    [created] = await accounts.events("user.created")
    assert created["actor"].startswith("cli:") and created["data"]["display_name"] == "Dora Li"

    # not a terminal: the password is read from stdin without the flag too
    code, _, err = await run_cli(accounts.stores, "users", "add", "dora", "--role", "admin", stdin=PASSWORD)
    assert code == 1 and "exists" in err
    code, _, err = await run_cli(accounts.stores, "users", "add", "ed", "--role", "unit", stdin=PASSWORD)
    assert code == 2 and "unit" in err
    code, out, err = await run_cli(accounts.stores, "users", "disable", "dora", stdin="")
    assert code == 0, err
    assert (await accounts.login("dora", PASSWORD)).status_code == 401


async def test_cli_users_reset_password_sets_a_new_one_and_lifts_the_lock(accounts: Accounts) -> None:
    await accounts.users.create(NewUser("fay", Role.DISPATCHER, PASSWORD), "test:setup")
    for _ in range(5):
        await accounts.login("fay", "wrong password!")
    assert (await accounts.login("fay", PASSWORD)).status_code == 423  # locked
    fresh = "a brand new password"
    code, out, err = await run_cli(accounts.stores, "users", "reset-password", "fay", "--password-stdin",
                                   stdin=fresh + "\n")  # fmt: skip
    assert code == 0, err
    assert "new password for dispatcher fay" in out
    assert (await accounts.login("fay", fresh)).status_code == 200
    assert (await accounts.login("fay", PASSWORD)).status_code == 401
    code, _, err = await run_cli(accounts.stores, "users", "reset-password", "nobody", stdin=fresh)
    assert code == 1 and "nobody" in err
    code, _, err = await run_cli(accounts.stores, "users", "reset-password", "fay", stdin="short")
    assert code == 1 and "password" in err


async def test_demo_accounts_one_per_role(accounts: Accounts, tmp_path: Path) -> None:
    """Demo accounts: one per role with working passwords, kept in a file only its owner can read, so a
    second start (and `users demo`) shows them again; a reset gives new ones."""
    unit_id = await add_unit(accounts.center, "DEMO-1")
    kept = tmp_path / FILE_NAME
    made = await create_demo_accounts(accounts.users, unit_id=unit_id, grid_area="T1/C1", kept=kept)
    assert {a.role for a in made} == set(Role)
    assert kept.stat().st_mode & 0o777 == 0o600
    printed = demo_table(made, kept)
    for account in made:
        assert account.password is not None and account.password in printed
        reply = await accounts.login(account.username, account.password)
        assert reply.status_code == 200, (account, reply.text)
        assert reply.json()["user"]["role"] == account.role.value
    who = {a.role: a for a in made}
    assert who[Role.UNIT].unit_id == unit_id

    again = await create_demo_accounts(accounts.users, unit_id=unit_id, kept=kept)
    assert again == made  # the same accounts, their passwords known from the file
    code, out, err = await run_cli(accounts.stores, "users", "demo", stdin="", data_dir=tmp_path)
    assert code == 0, err
    assert all(a.password and a.password in out for a in made) and str(kept) in out
    code, _, err = await run_cli(accounts.stores, "users", "demo", stdin="", data_dir=tmp_path / "none")
    assert code == 1 and FILE_NAME in err
    reset = await create_demo_accounts(accounts.users, unit_id=unit_id, kept=kept, reset_existing=True)
    dispatcher = next(a for a in reset if a.role is Role.DISPATCHER)
    assert dispatcher.password and dispatcher.password != who[Role.DISPATCHER].password
    assert (await accounts.login(dispatcher.username, dispatcher.password)).status_code == 200
    assert dispatcher.password in kept.read_text()
    unknown = await create_demo_accounts(accounts.users, unit_id=unit_id)  # no file: not known here
    assert all(a.password is None for a in unknown) and "reset-password" in demo_table(unknown)
    no_unit = await create_demo_accounts(accounts.users, unit_id=None, prefix="other-")
    assert Role.UNIT not in {a.role for a in no_unit}

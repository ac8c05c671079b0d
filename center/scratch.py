"""Stores for a one-off run (the bench, a replay): the configured servers, or embedded ones in a
temporary folder that are removed with it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from center.settings import Settings


@contextlib.contextmanager
def scratch_stores(
    settings: Settings, work: Path, say: Callable[[str], None], what_it_writes: str
) -> Iterator[tuple[str, str]]:
    """Redis and PostgreSQL URLs: the configured servers (with a warning naming ``what_it_writes``
    there), or embedded ones under ``work``."""
    if settings.redis_url and settings.database_url:
        say(f"WARNING: DISPATCH_REDIS_URL and DISPATCH_DATABASE_URL are set: {what_it_writes}")
        yield settings.redis_url, settings.database_url
        return
    from center.embedded import MARKER, EmbeddedServers

    data = work / "stores"
    say("starting embedded Valkey and PostgreSQL in a temporary folder")
    try:
        with EmbeddedServers(data) as urls:
            yield urls
    finally:
        # as root, PostgreSQL may have kept this throw-away cluster outside the folder: remove it too
        with contextlib.suppress(OSError):
            for line in (data / "postgres" / MARKER).read_text(encoding="utf-8").splitlines():
                if line.startswith("location: "):
                    shutil.rmtree(line.removeprefix("location: "), ignore_errors=True)

"""Schema migrations: ordered SQL files, each applied once, in its own transaction, and recorded.

Tables change only through numbered migrations. SQL functions live beside the code that calls them
(``ROUTINES``) and are applied with ``create or replace`` at every start, after the migrations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from core.db import Conn, Queryable

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# one migrator at a time when several processes start together
_LOCK_ID = 0x44495350  # "DISP"
# (package, file) of the SQL functions, each beside the module that calls it
ROUTINES: tuple[tuple[str, str], ...] = (("alerts", "intake.sql"),)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """The migrations shipped with the package, in order."""
    found = []
    for entry in resources.files("center.schema").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def applied(conn: Queryable) -> set[int]:
    exists = await conn.fetchval("select to_regclass('schema_migrations') is not null")
    if not exists:
        return set()
    return {r["version"] for r in await conn.fetch("select version from schema_migrations")}


async def migrate(conn: Conn) -> list[str]:
    """Apply what is missing; returns the names applied now."""
    done: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """create table if not exists schema_migrations (
                   version integer primary key,
                   name text not null,
                   applied_at timestamptz not null default now())"""
        )
        have = await applied(conn)
        for m in available():
            if m.version in have:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "insert into schema_migrations (version, name) values ($1, $2)", m.version, m.name
                )
            done.append(m.name)
        async with conn.transaction():  # the functions, as this version of the code calls them
            for package, name in ROUTINES:
                await conn.execute(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_ID)
    return done


async def is_current(conn: Queryable) -> bool:
    return {m.version for m in available()} <= await applied(conn)

"""SQL functions live beside their code and are applied at every start, after the numbered migrations."""

from __future__ import annotations

import asyncpg

from center import migrations
from tests.conftest import Center


async def test_every_start_puts_back_the_functions_as_the_code_defines_them(
    center: Center, db: asyncpg.Connection
) -> None:
    # an older definition, as a database migrated by an earlier version would hold it
    before = await db.fetchval("select pg_get_functiondef('accept_alert'::regproc)")
    await db.execute(before.replace("begin\n", "begin\n    -- an older rule\n", 1))
    assert "an older rule" in await db.fetchval("select pg_get_functiondef('accept_alert'::regproc)")

    assert await migrations.migrate(db) == []  # no table migration is missing ...
    now = await db.fetchval("select pg_get_functiondef('accept_alert'::regproc)")
    assert "an older rule" not in now  # ... and the function is the one in alerts/intake.sql again
    assert now == before


async def test_the_numbered_migrations_no_longer_define_the_intake_function() -> None:
    shipped = {m.name: m.sql for m in migrations.available()}
    assert all("function accept_alert" not in sql for sql in shipped.values())
    assert ("alerts", "intake.sql") in migrations.ROUTINES

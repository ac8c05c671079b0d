"""Type names for what talks to PostgreSQL: a connection (pooled or not), or the pool itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
    Queryable: TypeAlias = Conn | asyncpg.Pool[Any]
else:
    Conn = Queryable = Any

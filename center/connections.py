"""Opening the two stores: an asyncpg pool (JSON via orjson) and a Redis client."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )


async def open_pool(url: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    return pool


def open_redis(url: str, max_connections: int = 200, **options: Any) -> aioredis.Redis:
    """A client returning bytes; the domains decode what they read. A burst beyond the pool waits for a
    free connection (up to 5 s) instead of failing: the default pool raises at once when it is full."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        health_check_interval=30,
        decode_responses=False,
        **options,
    )
    client: aioredis.Redis = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
    return client

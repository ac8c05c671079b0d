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


def open_redis(url: str, **options: Any) -> aioredis.Redis:
    """A client returning bytes; the domains decode what they read."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, decode_responses=False, health_check_interval=30, **options
    )
    return client

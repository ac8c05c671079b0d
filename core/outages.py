"""Store failures that are outages, not defects: worth a retry (HTTP 503, a queue entry left queued)."""

from __future__ import annotations

import asyncpg
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused or reset connections, also TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.InsufficientResourcesError,
    # a connection that died under a query (the server crashed or failed over): asyncpg then reports
    # it closed, or in a state it cannot leave
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
)

# the same, and what a concurrent transaction can cause: tried again, it may well pass
TRANSIENT: tuple[type[Exception], ...] = (
    *STORE_UNAVAILABLE,
    asyncpg.exceptions.TransactionRollbackError,  # deadlock detected, serialization failure
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.QueryCanceledError,
)

"""The dispatch queue: one Redis Stream per priority, read by dispatchers as a consumer group.

Separate streams let a dispatcher take priority 1 before a backlog of priority 4. PostgreSQL stays the
system of record: an entry lost here is queued again by the reconciler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

PRIORITIES = (1, 2, 3, 4)
GROUP = "dispatchers"


def stream_key(priority: int) -> str:
    return f"{{alerts}}:p{priority}"


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    stream: str
    entry_id: str
    alert_id: int
    incident_id: int
    # the intake's trace context, when tracing is on (``core/tracing.py``)
    trace: str | None = None

    @property
    def queued_ns(self) -> int:
        """When it was queued, by Redis's clock (which gave the entry its id)."""
        return int(self.entry_id.split("-", 1)[0]) * 1_000_000


def _parse(stream: bytes | str, entry_id: bytes, fields: dict[bytes, bytes]) -> QueuedAlert:
    trace = fields.get(b"trace")
    return QueuedAlert(
        stream.decode() if isinstance(stream, bytes) else stream,
        entry_id.decode(),
        int(fields[b"alert"]),
        int(fields[b"incident"]),
        trace.decode(errors="replace")[:64] if trace else None,
    )


class AlertQueue:
    def __init__(self, redis: aioredis.Redis, maxlen: int = 1_000_000) -> None:
        self._redis = redis
        self._maxlen = maxlen

    async def ensure_groups(self) -> None:
        for p in PRIORITIES:
            try:
                await self._redis.xgroup_create(stream_key(p), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def put(self, alert_id: int, incident_id: int, priority: int, trace: str | None = None) -> None:
        fields: dict[str, str | int] = {"alert": alert_id, "incident": incident_id}
        if trace:
            fields["trace"] = trace
        await self._redis.xadd(
            stream_key(priority),
            fields,  # type: ignore[arg-type]  # redis-py's stubs want one value type
            maxlen=self._maxlen,
            approximate=True,
        )

    async def take(self, consumer: str, count: int = 16, block_ms: int = 1000) -> list[QueuedAlert]:
        """The most urgent waiting entries: priority 1 first, then 2, ...; blocks when all are empty."""
        for p in PRIORITIES:
            reply: Any = await self._redis.xreadgroup(GROUP, consumer, {stream_key(p): ">"}, count=count)
            if reply:
                return [_parse(s, i, f) for s, entries in reply for i, f in entries]
        reply = await self._redis.xreadgroup(
            GROUP, consumer, {stream_key(p): ">" for p in PRIORITIES}, count=1, block=block_ms
        )
        return [_parse(s, i, f) for s, entries in reply or [] for i, f in entries]

    async def ack(self, item: QueuedAlert) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.xack(item.stream, GROUP, item.entry_id)
        pipe.xdel(item.stream, item.entry_id)
        await pipe.execute()

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 100) -> list[QueuedAlert]:
        """Entries read by a dispatcher that died before acknowledging them."""
        taken: list[QueuedAlert] = []
        for p in PRIORITIES:
            key = stream_key(p)
            reply = await self._redis.xautoclaim(key, GROUP, consumer, min_idle_ms, "0-0", count=count)
            taken.extend(_parse(key, i, f) for i, f in reply[1] if f)
        return taken

    async def depth(self) -> dict[int, int]:
        pipe = self._redis.pipeline(transaction=False)
        for p in PRIORITIES:
            pipe.xlen(stream_key(p))
        return dict(zip(PRIORITIES, await pipe.execute(), strict=True))

    async def backlog(self) -> dict[int, tuple[int, float | None]]:
        """Per priority: the entries in its stream (waiting, or taken and not yet acknowledged) and the
        age in seconds of the oldest (None when empty), by Redis's own clock, which gave the ids."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.time()
        for p in PRIORITIES:
            pipe.xlen(stream_key(p))
            pipe.xrange(stream_key(p), count=1)
        (now_s, now_us), *replies = await pipe.execute()
        now_ms = now_s * 1000 + now_us / 1000
        found: dict[int, tuple[int, float | None]] = {}
        for p, length, first in zip(PRIORITIES, replies[::2], replies[1::2], strict=True):
            oldest = None
            if first:
                entry_id = first[0][0]
                ms = int((entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")[0])
                oldest = max(0.0, (now_ms - ms) / 1000)
            found[p] = (int(length), oldest)
        return found

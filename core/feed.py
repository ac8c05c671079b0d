"""The live feed: an ordered, resumable stream of state changes in Redis for screens and units.

Each published event gets a gapless sequence number (an INCR and an XADD in one script, so order and
numbering agree across processes). The stream keeps the recent past for clients that reconnect; the
epoch changes when Redis loses the feed, so a client can tell "nothing missed" from "start over".
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.eventlog import Event

# the key of a payload's personal data: sent only to roles that may see it (see realtime/wire.py, event_frame)
PRIVATE = "private"
# the kind of the coalesced position updates that screens get once a tick
UNITS_MOVED = "units.moved"
# an entry in the feed that is not an event of this center
UNREADABLE = "feed.unreadable"

log = logging.getLogger(__name__)

STREAM = "{feed}:stream"
SEQ = "{feed}:seq"
EPOCH = "{feed}:epoch"

# ARGV: maxlen, fresh epoch, trace context ('' for none), payload...  Returns the epoch and the last
# sequence number.
_PUBLISH = """
redis.call('SET', KEYS[3], ARGV[2], 'NX')
local n = 0
for i = 4, #ARGV do
  n = redis.call('INCR', KEYS[2])
  if ARGV[3] == '' then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-' .. n, 'e', ARGV[i])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-' .. n, 'e', ARGV[i], 't', ARGV[3])
  end
end
return {redis.call('GET', KEYS[3]), n}
"""

_HEAD = """
redis.call('SET', KEYS[2], ARGV[1], 'NX')
return {redis.call('GET', KEYS[2]), tonumber(redis.call('GET', KEYS[1]) or '0')}
"""


@dataclass(slots=True)
class FeedItem:
    seq: int
    payload: dict[str, Any]
    # the item as socket frames, encoded once for every connection (keyed by whether it is redacted)
    frames: dict[bool, str] = field(default_factory=dict)
    # the trace context of the work that published it, when tracing is on (never sent to clients),
    # and when this process read it (nanoseconds since the epoch)
    trace: str | None = None
    read_ns: int = 0


def _seq_of(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.split("-", 1)[1])


def _item(stream_id: bytes | str, fields: dict[bytes, bytes]) -> FeedItem:
    """The entry as an item; an entry the center did not write (anyone with access to Redis can add
    one) keeps its place in the order as an unreadable item instead of stopping every reader at it."""
    seq = _seq_of(stream_id)
    try:
        payload = orjson.loads(fields[b"e"])
    except (KeyError, orjson.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        log.warning("live feed entry %s is not an event of this center; passed over", seq)
        payload = {"kind": UNREADABLE}
    trace = fields.get(b"t")
    if trace is None:
        return FeedItem(seq, payload)
    return FeedItem(seq, payload, trace=trace.decode(errors="replace")[:64], read_ns=time.time_ns())


class Feed:
    def __init__(self, redis: aioredis.Redis, maxlen: int = 100_000) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._publish = redis.register_script(_PUBLISH)
        self._head = redis.register_script(_HEAD)

    async def publish(self, items: Sequence[Event | dict[str, Any]], trace: str | None = None) -> int:
        """Append events (or ready-made payloads such as position batches); returns the last seq.
        ``trace``: the trace context the items travel with (``core/tracing.py``)."""
        if not items:
            return 0
        payloads = [orjson.dumps(i.as_json() if isinstance(i, Event) else i) for i in items]
        _, last = await self._publish(
            keys=[STREAM, SEQ, EPOCH], args=[self._maxlen, secrets.token_hex(8), trace or "", *payloads]
        )
        return int(last)

    async def publish_committed(
        self, items: Sequence[Event | dict[str, Any]], trace: str | None = None
    ) -> None:
        """Publish what a committed change wrote, where failing must not undo its answer (an accepted
        call, a handled alert): a feed out of reach is logged, and screens see the change at their next
        snapshot (it is in the event log)."""
        try:
            await self.publish(items, trace)
        except (RedisError, OSError):
            log.warning("%d events not published; screens catch up at their next snapshot", len(items))

    async def head(self) -> tuple[str, int]:
        """The feed's epoch and its last sequence number."""
        epoch, seq = await self._head(keys=[SEQ, EPOCH], args=[secrets.token_hex(8)])
        return (epoch.decode() if isinstance(epoch, bytes) else str(epoch)), int(seq)

    async def since(self, seq: int, limit: int = 10_000) -> list[FeedItem] | None:
        """Everything after ``seq`` in order, or None when part of it was trimmed away."""
        entries: Any = await self._redis.xrange(STREAM, min=f"0-{seq + 1}", count=limit)
        items = [_item(i, f) for i, f in entries]
        if seq > 0:
            first: Any = await self._redis.xrange(STREAM, min="-", count=1)
            if not first or _seq_of(first[0][0]) > seq + 1:
                return None
        if len(items) == limit:
            return None
        return items

    async def read(self, after: int, block_ms: int = 5000, count: int = 1000) -> list[FeedItem]:
        """Wait for events after ``after`` (one reader per process calls this in a loop)."""
        reply: Any = await self._redis.xread({STREAM: f"0-{after}"}, count=count, block=block_ms)
        items: list[FeedItem] = []
        for _stream, entries in reply or []:
            items.extend(_item(i, f) for i, f in entries)
        return items

"""Pages of a list: ``limit`` and an opaque ``after`` cursor (keyset: the sort key of the last item
seen), so that a client walks a live list without skipping or repeating what did not change."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query

from core.errors import Invalid

MAX_LIMIT = 1000
MAX_CURSOR = 300  # characters: a cursor holds a few numbers and a time

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")]
After = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR, pattern=r"^[A-Za-z0-9_-]+$",
          description="the `next` cursor of the previous page; absent: the first page"),
]  # fmt: skip

T = TypeVar("T")


def encode(key: Sequence[str | int | float | None]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode(cursor: str | None, shape: Sequence[type]) -> list[Any] | None:
    """The sort key a cursor holds, checked against the types the list sorts by (None: the first
    page). A cursor that is not one of ours is a 422, never a 500."""
    if cursor is None:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise Invalid("after: not a cursor this list gave", field="after") from None
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(
            isinstance(v, t) and not (t is int and isinstance(v, bool))
            for v, t in zip(key, shape, strict=True)
        )
    ):
        raise Invalid("after: not a cursor this list gave", field="after")
    return key


def page(
    rows: Sequence[T], limit: int, key: Callable[[T], Sequence[str | int | float | None]],
    render: Callable[[T], Any],
) -> dict[str, Any]:  # fmt: skip
    """``rows`` fetched with ``limit + 1``: the page rendered, and the next page's cursor if there is more."""
    items = rows[:limit]
    more = len(rows) > limit
    return {"items": [render(r) for r in items], "next": encode(key(items[-1])) if more else None}

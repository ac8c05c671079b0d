"""The base of every answer model, the time type, and a page of a list."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# the domain objects render their times with isoformat(); the schema says so, a generated client
# parses them into datetimes
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(Answer, Generic[T]):
    """One page of a list. ``next`` is an opaque cursor: pass it as ``after`` for the next page; null
    on the last page."""

    items: list[T]
    next: str | None = Field(description="the cursor of the next page, or null: this page is the last")

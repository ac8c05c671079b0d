"""What a log line is about: the request, incident and unit being worked on, as context variables.

A request middleware binds the request id, the dispatcher binds the incident (and alert) it handles, a
unit's socket binds its unit; the JSON log format writes whatever is bound (``center/logs.py``). Each
asyncio task has its own copy of the context, so one connection's ids never leak into another's lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

FIELDS = ("request_id", "incident_id", "alert_id", "unit_id")

_vars: dict[str, ContextVar[str | int | None]] = {
    name: ContextVar(f"dispatch_log_{name}", default=None) for name in FIELDS
}


def bind(**ids: str | int | None) -> dict[str, Token[str | int | None]]:
    """Bind ids for the rest of this task (or until :func:`unbind` with what this returned)."""
    return {name: _vars[name].set(value) for name, value in ids.items()}


def unbind(tokens: dict[str, Token[str | int | None]]) -> None:
    for name, token in tokens.items():
        _vars[name].reset(token)


@contextlib.contextmanager
def bound(**ids: str | int | None) -> Iterator[None]:
    """Bind ids for the duration of a block."""
    tokens = bind(**ids)
    try:
        yield
    finally:
        unbind(tokens)


def current() -> dict[str, str | int]:
    """The ids bound now (those that are set)."""
    return {name: value for name, var in _vars.items() if (value := var.get()) is not None}

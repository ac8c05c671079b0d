"""State machines: each one a table of allowed moves; one refusal for all of them."""

from __future__ import annotations

from collections.abc import Mapping, Set
from enum import StrEnum
from typing import TypeVar

from core.errors import Conflict

S = TypeVar("S", bound=StrEnum)

Table = Mapping[S, Set[S]]


class IllegalTransition(Conflict):
    """``what`` (a unit, an assignment, an incident, a case) cannot go from ``current`` to ``wanted``."""

    def __init__(self, what: str, current: StrEnum, wanted: StrEnum, allowed: Set[StrEnum]) -> None:
        super().__init__(
            f"{what} cannot go from {current} to {wanted}", current=current.value, wanted=wanted.value,
            allowed=sorted(s.value for s in allowed),
        )  # fmt: skip


def check(what: str, table: Table[S], current: S, wanted: S) -> None:
    """Raise :class:`IllegalTransition` unless the table allows ``current -> wanted``."""
    if wanted not in table[current]:
        raise IllegalTransition(what, current, wanted, table[current])


def sources(table: Table[S], wanted: S) -> frozenset[S]:
    """Every status from which the table allows a move to ``wanted``."""
    return frozenset(s for s, targets in table.items() if wanted in targets)

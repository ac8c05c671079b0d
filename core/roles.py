"""Who may do what: the roles a token carries."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    CALL_TAKER = "call_taker"
    UNIT = "unit"
    GRID_WORKER = "grid_worker"
    DISPLAY = "display"
    INTEGRATION = "integration"


# roles that may see caller personal data (phone, name)
SEES_CALLER_DATA = frozenset({Role.ADMIN, Role.DISPATCHER, Role.CALL_TAKER})

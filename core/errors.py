"""Domain exceptions carry data; only ``web/`` maps them to HTTP status codes or close codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domains make."""

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class NotFound(DomainError):
    """The thing named does not exist (or the caller may not know that it does)."""


class Conflict(DomainError):
    """The request is well formed but the current state forbids it."""


class Invalid(DomainError):
    """The request breaks a rule about its content; ``data['field']`` names the field."""


class TooLarge(Invalid):
    """The request or upload is bigger than allowed (HTTP 413)."""

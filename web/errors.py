"""Mapping domain refusals and bad input to clear HTTP errors: status, field, reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import Conflict, DomainError, Invalid, NotFound, TooLarge

# the first match wins: TooLarge is a kind of Invalid
_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404), (Conflict, 409), (TooLarge, 413), (Invalid, 422),
]  # fmt: skip


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        return JSONResponse({"error": exc.message, **exc.data}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_input(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            # a body that is not JSON at all: the location is a character offset, not a field
            {"field": "body" if e.get("type") == "json_invalid" else _location(tuple(e.get("loc", ()))),
             "reason": e.get("msg", "invalid")}
            for e in exc.errors()
        ]  # fmt: skip
        first = problems[0] if problems else {"field": "body", "reason": "invalid"}
        return JSONResponse(
            {"error": f"{first['field']}: {first['reason']}", "field": first["field"], "problems": problems},
            status_code=422,
        )

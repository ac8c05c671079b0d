"""Every refusal in one shape: ``{"error": "...", "field": "..." | null, "problems": [...]}``.

Domain refusals, bad input, the framework's own answers (401, 403, 404 for an unknown route, 405), and
PostgreSQL or Redis being unreachable (503 with ``Retry-After``) all answer that shape; ``field`` is
null and ``problems`` empty for a refusal that is about no one field. Some refusals carry more keys
beside those (e.g. ``current`` and ``allowed`` for an illegal status change). The OpenAPI schema
declares, per route, the error statuses it can answer with this body.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.bounds import MAX_ID
from core.errors import Conflict, DomainError, Invalid, NotFound, TooLarge
from core.outages import STORE_UNAVAILABLE

log = logging.getLogger(__name__)

# the first match wins: TooLarge is a kind of Invalid
_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404), (Conflict, 409), (TooLarge, 413), (Invalid, 422),
]  # fmt: skip
RETRY_AFTER_S = 5  # what a 503 asks the client to wait
_BODY_NOT_READABLE = "There was an error parsing the body"  # the framework's 400 for undecodable bodies


class Problem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """What every refusal answers; some carry more keys (e.g. ``current`` and ``allowed``)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="what went wrong, for people")
    field: str | None = Field(None, description="the field at fault (dotted path), or null")
    problems: list[Problem] = Field(default_factory=list, description="every field at fault")


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    problems = [{"field": field, "reason": message}] if field else []
    return {"error": message, "field": field, "problems": problems, **extra}


def error_response(
    status: int, message: str, field: str | None = None, *, headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_body(message, field, **(extra or {})), status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        data = dict(exc.data)
        field = data.pop("field", None)
        return error_response(status, exc.message, str(field) if field is not None else None, extra=data)

    @app.exception_handler(RequestValidationError)
    async def bad_input(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            # a body that is not JSON at all: the location is a character offset, not a field
            {"field": "body" if e.get("type") == "json_invalid" else _location(tuple(e.get("loc", ()))),
             "reason": _reason(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]  # fmt: skip
        first = problems[0] if problems else {"field": "body", "reason": "invalid"}
        return JSONResponse(
            {"error": f"{first['field']}: {first['reason']}", "field": first["field"], "problems": problems},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _BODY_NOT_READABLE:
            return error_response(422, "body: not valid JSON text", "body")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, message, headers=dict(exc.headers or {}))

    @app.exception_handler(asyncpg.DataError)
    async def unstorable(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # a value PostgreSQL refuses (out of range, not encodable): a bound the route should have had
        log.warning("%s %s: PostgreSQL refused a value: %s", request.method, request.url.path, exc)
        return error_response(422, "a value is out of range or cannot be stored")

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: a store is unavailable: %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc)  # fmt: skip
        what = (
            "Redis" if isinstance(exc, RedisError) else "PostgreSQL" if isinstance(exc, asyncpg.PostgresError)
            else "PostgreSQL, Redis or the disk"  # an OS error: a refused connection, a timeout, a full disk
        )  # fmt: skip
        return error_response(503, f"{what} is unavailable; try again shortly",
                              headers={"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip

    for kind in STORE_UNAVAILABLE:  # not the client's fault, worth a retry
        app.add_exception_handler(kind, unavailable)

    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        # still logged (and re-raised) by the framework; the client gets JSON, not text/plain
        return error_response(500, "internal error")

    app.add_exception_handler(Exception, crashed)


# -- the OpenAPI side ---------------------------------------------------------------------------------

_DESCRIPTIONS = {
    401: "no token, or a bad or expired one", 403: "this role may not do this", 404: "not found",
    409: "the current state forbids it", 413: "the body is too large", 422: "bad input",
    503: "PostgreSQL or Redis is unavailable; see Retry-After",
}  # fmt: skip
_NO_TOKEN = {"/api/v1/login", "/api/v1/osmand"}  # no bearer token (the OsmAnd device id answers 401)
_ANY_ROLE = {"/api/v1/me"}  # any valid token
_NO_STORE = {"/healthz"}
_STATELESS = {
    "/api/v1/login",
    "/api/v1/locations",
    "/api/v1/osmand",
}  # mutate nothing that could be in a conflicting state


def _errors_of(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what it takes (its token, parameters, body)."""
    places = {p.get("in") for p in operation.get("parameters", [])}
    codes: set[int] = set()
    if operation.get("security") or path in _NO_TOKEN - {"/api/v1/login"}:
        codes.add(401)
        if path not in _ANY_ROLE | _NO_TOKEN:
            codes.add(403)
    if places or "requestBody" in operation:
        codes.add(422)
    if "path" in places:
        codes.add(404)
    if method in {"post", "put", "patch", "delete"}:
        codes |= {413, 422}  # any request may carry a body, and the body limit applies to all
        if path not in _STATELESS:
            codes.add(409)
    if path not in _NO_STORE:
        codes.add(503)
    if path == "/api/v1/osmand":
        codes |= {404, 422}  # a retired unit; the fix in the query string
    if path == "/api/v1/streets":
        codes.add(404)  # no road network loaded
    return codes


def _exact_integers(node: Any) -> None:
    """The framework's OpenAPI model keeps ``minimum``/``maximum`` as floats, so 2^63-1 shows as 2^63:
    put integer bounds back as integers."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = min(MAX_ID, max(-MAX_ID - 1, int(value)))
        for child in node.values():
            _exact_integers(child)
    elif isinstance(node, list):
        for child in node:
            _exact_integers(child)


def _declare(spec: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    for name in ("HTTPValidationError", "ValidationError"):  # the framework's 422, which we never answer
        schemas.pop(name, None)
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for code in sorted(_errors_of(path, method, operation)):
                declared = responses.get(str(code))
                if declared is None or "HTTPValidationError" in str(declared):
                    responses[str(code)] = {"description": _DESCRIPTIONS[code], "content": ref}


def declare(app: FastAPI) -> None:
    """Make the OpenAPI schema declare, on every route, the error statuses it can answer with the error
    body (and integer bounds exactly)."""
    build = app.openapi
    done: list[int] = []  # the id of the schema already completed (the framework caches it)

    def openapi() -> dict[str, Any]:
        spec = build()
        if done != [id(spec)]:
            _exact_integers(spec)
            _declare(spec)
            done[:] = [id(spec)]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]

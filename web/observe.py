"""Each HTTP request observed: a request id for its log lines, and counted and timed by route template.
A socket's connection gets a request id for its log lines as well.

The id is the caller's ``X-Request-ID`` when it is a short token (a proxy's), a new one otherwise; it is
bound for the request's log lines (``core/logcontext.py``) and sent back in ``X-Request-ID``. The route
label is the template (``/api/v1/incidents/{incident_id}``), never the raw path, so that the metric's
series stay few whatever paths are asked for.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import logcontext, metrics

HEADER = b"x-request-id"
_GIVEN_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    """The matched route's template; the static files' mount; "unmatched" for anything else."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return "/static" if str(scope.get("path", "")).startswith("/static/") else "unmatched"


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _GIVEN_ID.fullmatch(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


class ObserveRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # a socket's lines share one id too (its handshake's), though sockets are not counted here
            with logcontext.bound(request_id=request_id(scope) if scope["type"] == "websocket" else None):
                await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        status = 500  # if the app fails before it answers, the server's error page is a 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (HEADER, rid.encode("ascii"))]
            await send(message)

        tokens = logcontext.bind(request_id=rid)
        try:
            await self.app(scope, receive, sending)
        finally:
            logcontext.unbind(tokens)
            route = route_label(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"
            status_class = metrics.status_class(status)
            metrics.HTTP_REQUESTS.labels(route=route, method=method, status=status_class).inc()
            metrics.HTTP_DURATION.labels(route=route, method=method).observe(time.perf_counter() - started)

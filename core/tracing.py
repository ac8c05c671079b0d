"""Optional OpenTelemetry spans along an alert's way, so that one slow alert can be followed:
``alert.intake`` (API) -> ``alert.queued`` (waiting in the queue) -> ``alert.dispatch`` (dispatcher, with
``dispatch.recommend`` and ``dispatch.offer`` inside) -> ``offer.delivered`` (the offer sent on the
unit's socket, in whichever API process holds it).

Off unless the operator sets ``DISPATCH_TRACING``; then the ``tracing`` extra must be installed. The
trace context crosses processes the way the alert does, as a W3C ``traceparent``: in the alert's queue
entry and beside the feed events the dispatcher publishes (never inside them: screens do not see it).
Spans leave through a batch processor on its own thread, over OTLP/HTTP: the event loop never waits for
the collector, and a collector that is down costs dropped spans (its queue is bounded), never a call.
When tracing is off each function here is a test of one module variable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from core import logcontext

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

SERVICE = "dispatch-center"
# version 00, a 32-hex trace id, a 16-hex span id, flags: anything else (Redis is writable by others)
# starts a trace of its own instead of reaching the propagator
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
Attributes = dict[str, str | int | float | bool]

_tracer: Tracer | None = None


class TracingUnavailable(RuntimeError):
    """Tracing was asked for and the `tracing` extra is not installed."""


def require() -> None:
    """Refuse, before anything starts, tracing asked for without the `tracing` extra."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise TracingUnavailable(
            f"DISPATCH_TRACING is set but OpenTelemetry is not installed: "
            f"pip install 'dispatch-center[tracing]' ({exc})"
        ) from None


def start(endpoint: str | None, service: str = SERVICE) -> Callable[[], None]:
    """Send spans to an OTLP/HTTP collector (``endpoint``: its traces URL; None: the standard
    ``OTEL_EXPORTER_OTLP_*`` variables, else a collector on this machine). Returns the stop, which
    flushes what is buffered."""
    global _tracer
    require()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # a provider of our own, not the process-wide one: a second center in one process (the tests)
    # starts and stops its own
    # one instance per process: a trace shows which API process took the call, which dispatcher
    # handled it and which process held the unit's socket
    instance = f"{socket.gethostname()}-{os.getpid()}"
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.instance.id": instance})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint or None)))
    _tracer = provider.get_tracer("dispatch_center")
    log.info("tracing on: spans sent over OTLP to %s", endpoint or "the OTEL_EXPORTER_OTLP_* endpoint")

    def stop() -> None:
        global _tracer
        _tracer = None
        provider.shutdown()

    return stop


def enabled() -> bool:
    return _tracer is not None


def _parent(traceparent: str | None) -> Context | None:
    if not traceparent or _TRACEPARENT.fullmatch(traceparent) is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def _attributes(given: Attributes) -> Attributes:
    """What the span is about: the ids the log lines name, and the given ones."""
    return {f"dispatch.{k}": v for k, v in logcontext.current().items()} | given


@contextlib.contextmanager
def span(name: str, parent: str | None = None, **attributes: str | int | float | bool) -> Iterator[None]:
    """A span around a block, the current one inside it; ``parent``: a ``traceparent`` from another
    process (default: the current span, if any)."""
    if _tracer is None:
        yield
        return
    context = _parent(parent)
    with _tracer.start_as_current_span(name, context=context, attributes=_attributes(attributes)):
        yield


def add(**attributes: str | int | float | bool) -> None:
    """Attributes learnt inside the current span (how many units were offered)."""
    if _tracer is not None:
        from opentelemetry import trace

        trace.get_current_span().set_attributes(attributes)


def record(
    name: str, parent: str | None, start_ns: int, end_ns: int | None = None,
    **attributes: str | int | float | bool,
) -> None:  # fmt: skip
    """A span that already happened (an alert's wait in the queue), from ``start_ns`` to now or
    ``end_ns`` (nanoseconds since the epoch; a start after the end, another machine's clock, is
    moved back to the end)."""
    if _tracer is None:
        return
    end = end_ns if end_ns is not None else time.time_ns()
    done = _tracer.start_span(
        name, context=_parent(parent), attributes=_attributes(attributes), start_time=min(start_ns, end)
    )
    done.end(end_time=end)


def current() -> str | None:
    """The current span as a ``traceparent``, for what carries the alert on (None when off)."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")

"""The center's Prometheus metrics, every one named ``dispatch_*``, all defined here.

Counters and histograms are incremented where things happen (one line at the call site); the process's
own gauges (sockets, pools) are set by the process. With ``PROMETHEUS_MULTIPROC_DIR`` set (before the
first import of prometheus_client) every process writes its values to files in that folder and any
process's ``/metrics`` answers for all of them: counters and histograms are summed, the gauges here are
summed over the living processes (``livesum``). What is read from Redis and PostgreSQL (queue depth,
pending incidents, units) is not here: it is read once per scrape by the process that answers it
(``center/store_gauges.py``).
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# no `*_created` series beside each counter and histogram: twice the series, for nothing a dashboard uses
disable_created_metrics()  # type: ignore[no-untyped-call]

# seconds; a request of the API is milliseconds, a slow one a few seconds
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# seconds from an alert's acceptance to the offers it led to; the target is well under a second
OFFER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def multiprocess_dir() -> str | None:
    """The folder shared by the processes of one scrape target, when the operator set one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def status_class(status: int) -> str:
    """200 -> "2xx": the label stays within five values."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


HTTP_REQUESTS = Counter(
    "dispatch_http_requests", "HTTP requests answered, by route template, method and status class",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_DURATION = Histogram(
    "dispatch_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["route", "method"], buckets=HTTP_BUCKETS,
)  # fmt: skip

ALERT_TO_OFFER = Histogram(
    "dispatch_alert_to_offer_seconds",
    "From an alert's acceptance to the offers its first handling made, by priority",
    ["priority"], buckets=OFFER_BUCKETS,
)  # fmt: skip
OFFERS_TIMED_OUT = Counter("dispatch_offers_timed_out", "Offers not acknowledged in time, withdrawn")

SOCKET_CONNECTIONS = Gauge(
    "dispatch_socket_connections", "Live WebSocket subscriptions: ops (screens) and unit",
    ["socket"], multiprocess_mode="livesum",
)  # fmt: skip
SLOW_CLIENTS_DROPPED = Counter(
    "dispatch_socket_slow_clients_dropped",
    "Socket clients whose queue filled up: backlog dropped, sent a fresh snapshot", ["socket"],
)  # fmt: skip

TASK_RESTARTS = Counter(
    "dispatch_task_restarts", "Supervised background tasks restarted after a crash", ["task"]
)
EMBEDDED_RESTARTS = Counter(
    "dispatch_embedded_server_restarts",
    "Attempts to start a dead embedded Valkey or PostgreSQL again",
    ["server"],
)

POSTGRES_POOL = Gauge(
    "dispatch_postgres_pool_connections", "PostgreSQL pool connections: in_use, idle, max",
    ["state"], multiprocess_mode="livesum",
)  # fmt: skip
REDIS_POOL = Gauge(
    "dispatch_redis_pool_connections", "Redis pool connections: in_use, idle, max",
    ["state"], multiprocess_mode="livesum",
)  # fmt: skip


def socket_kind(unit_id: int | None) -> str:
    return "ops" if unit_id is None else "unit"


def process_exits() -> None:
    """In multiprocess mode: this process's live gauges leave the sums (its counters stay counted)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

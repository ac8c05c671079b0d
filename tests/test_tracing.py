"""OpenTelemetry spans along an alert's way, received by an OTLP/HTTP collector of the test's own (a
real socket, the real exporter): one trace from the intake to the offer on the unit's socket."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from center.process_roles import Roles
from tests.conftest import SECRET, Center, Stores, center_settings, free_port, receive_until, serving, wipe
from tests.helpers import add_unit, cli_without, post_alert, unit_socket, wait_until
from tests.test_up import stop, wait_ready

SCENE = (31.2350, 121.4750)


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    instance: str  # the process that made it (its resource's service.instance.id)


class Collector:
    """What the center exported, as the spans a trace viewer would show."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.services: set[str] = set()
        self._lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self._lock:
            for resource in request.resource_spans:
                about = {a.key: _value(a.value) for a in resource.resource.attributes}
                self.services.add(about["service.name"])
                for scope in resource.scope_spans:
                    self.spans.extend(_span(s, about["service.instance.id"]) for s in scope.spans)

    def named(self, name: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.name == name]


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _span(s: Any, instance: str) -> Span:
    return Span(
        s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.start_time_unix_nano,
        s.end_time_unix_nano, {a.key: _value(a.value) for a in s.attributes}, instance,
    )  # fmt: skip


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    found = Collector()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                found.take(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


async def _one_alert(center: Center, found: Collector) -> tuple[int, dict[str, Any]]:
    """A call near an available unit whose phone is connected: its alert id and the offer the phone got,
    once the offer's delivery was exported."""
    near = await add_unit(center, "P-TRACED", status="available", at=(SCENE[0] + 0.004, SCENE[1]))
    ws = await unit_socket(center, near)
    accepted = await post_alert(center, SCENE)
    offer = await receive_until(ws, lambda m: m.get("kind") == "assignment.offered", within_s=30)
    assert offer["unit_id"] == near
    assert not {"t", "trace", "traceparent"} & offer.keys()  # the context is not the unit's business
    await wait_until(lambda: found.named("offer.delivered"), within_s=30)
    await ws.close()
    return int(accepted["alert_id"]), offer


def _the_trace(found: Collector, alert_id: int, offer: dict[str, Any]) -> dict[str, Span]:
    """The alert's trace, checked as its tree should be; its spans by name."""
    intake = [s for s in found.named("alert.intake") if s.attributes.get("alert_id") == alert_id]
    assert len(intake) == 1, found.spans
    root = intake[0]
    assert root.parent_id == ""  # the call's own trace
    assert root.attributes["incident_id"] == offer["incident_id"]
    assert root.attributes["outcome"] == "new_incident"
    assert root.attributes["channel"] == "110"
    trace = [s for s in found.spans if s.trace_id == root.trace_id]
    by_name = {s.name: s for s in trace}
    # the way of the alert: queued and dispatched under the intake, offered inside the dispatch,
    # delivered on the socket under the dispatch
    assert {"alert.intake", "alert.queued", "alert.dispatch", "dispatch.recommend", "dispatch.offer",
            "offer.delivered"} <= by_name.keys(), sorted(by_name)  # fmt: skip
    dispatch, delivered = by_name["alert.dispatch"], by_name["offer.delivered"]
    assert by_name["alert.queued"].parent_id == root.span_id
    assert dispatch.parent_id == root.span_id
    assert by_name["dispatch.recommend"].parent_id == dispatch.span_id
    assert by_name["dispatch.offer"].parent_id == dispatch.span_id
    assert by_name["dispatch.offer"].attributes["offered"] == 1
    assert dispatch.attributes["offered"] == 1
    assert dispatch.attributes["dispatch.incident_id"] == offer["incident_id"]  # as its log lines name it
    assert delivered.parent_id == dispatch.span_id
    assert delivered.attributes["assignment_id"] == offer["assignment_id"]
    assert delivered.attributes["dispatch.unit_id"] == offer["unit_id"]
    # in time order: accepted, then queued, then dispatched, then delivered
    assert root.start_ns <= by_name["alert.queued"].end_ns <= dispatch.start_ns + 5_000_000
    assert dispatch.start_ns <= by_name["dispatch.offer"].end_ns <= dispatch.end_ns
    assert all(s.start_ns <= s.end_ns for s in trace)
    assert found.services == {"dispatch-center"}
    return by_name


async def test_one_alert_is_one_trace_from_intake_to_the_offer_on_the_units_socket(
    stores: Stores, tmp_path: Path, collector: tuple[Collector, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    found, endpoint = collector
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # export within a moment, not 5 s
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path, tracing=True, tracing_endpoint=endpoint)
    async with serving(settings) as center:
        alert_id, offer = await _one_alert(center, found)
    _the_trace(found, alert_id, offer)


async def test_the_trace_follows_the_alert_from_the_api_process_to_a_dispatcher_process_and_back(
    stores: Stores, tmp_path: Path, collector: tuple[Collector, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production's shape: the API in one process (here, the test's), the dispatcher in a `worker`."""
    found, endpoint = collector
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    await wipe(stores)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_TRACING": "true", "DISPATCH_TRACING_ENDPOINT": endpoint,
            "DISPATCH_DATA_DIR": str(tmp_path / "worker")}  # fmt: skip
    worker = await asyncio.to_thread(_started_worker, env, port)
    try:
        settings = center_settings(stores, data_dir=tmp_path, tracing=True, tracing_endpoint=endpoint)
        async with serving(settings, Roles(api=True, dispatch=False, scheduler=False)) as center:
            alert_id, offer = await _one_alert(center, found)
    finally:
        await asyncio.to_thread(stop, worker)
    spans = _the_trace(found, alert_id, offer)
    api, dispatcher = spans["alert.intake"].instance, spans["alert.dispatch"].instance
    assert api != dispatcher  # two processes, one trace
    assert spans["offer.delivered"].instance == api
    assert {spans[n].instance for n in ("alert.queued", "dispatch.recommend", "dispatch.offer")} == {
        dispatcher
    }


def _started_worker(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "center.cli", "worker", "--port", str(port)]
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", worker, within_s=60)
    except BaseException:
        stop(worker)
        raise
    return worker


async def test_tracing_is_off_by_default_and_the_queue_carries_no_context(
    stores: Stores, tmp_path: Path, collector: tuple[Collector, str]
) -> None:
    found, _ = collector
    await wipe(stores)
    # no dispatcher: the alert's queue entry stays there to be read
    quiet = Roles(api=True, dispatch=False, scheduler=False)
    async with serving(center_settings(stores, data_dir=tmp_path), quiet) as center:
        accepted = await post_alert(center, SCENE)
        redis = aioredis.from_url(stores.redis_url)
        try:
            entries: Any = await redis.xrange("{alerts}:p1")
        finally:
            await redis.aclose()
        assert [int(fields[b"alert"]) for _id, fields in entries] == [accepted["alert_id"]]
        assert all(b"trace" not in fields for _id, fields in entries)
    assert found.spans == []


def test_tracing_asked_for_without_the_extra_is_refused_before_anything_starts() -> None:
    # the extra left out: its modules cannot be imported
    done = cli_without(
        "opentelemetry.sdk.trace", ["up"], {"DISPATCH_SECRET_KEY": SECRET, "DISPATCH_TRACING": "1"}
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'dispatch-center[tracing]'" in done.stderr
    assert "Traceback" not in done.stderr

"""Tracing: the trace context goes into outbox headers and comes out of record headers and
HTTP requests; log lines name their trace; spans leave the process only with an endpoint."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mentorship_shared.contracts.events import ProfileDeleted
from mentorship_shared.plumbing import tracing
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.inbox import Delivery
from mentorship_shared.plumbing.logs import JsonFormatter, TextFormatter, TraceContext
from mentorship_shared.plumbing.outbox import Outbox
from mentorship_shared.plumbing.settings import ServiceSettings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError

from tests.support.tracing import recorded_spans

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with recorded_spans() as exporter:
        yield exporter


def settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(
        service_name="test", database_url="postgresql://x@localhost/x", http_port=8000, **values
    )


def ids(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def parent_id(span: ReadableSpan) -> str | None:
    return trace.format_span_id(span.parent.span_id) if span.parent is not None else None


class RecordingConnection:
    """Takes the outbox's INSERT and keeps its arguments."""

    def __init__(self) -> None:
        self.inserted: list[tuple[Any, ...]] = []

    async def execute(self, _query: str, *args: Any) -> str:
        self.inserted.append(args)
        return "INSERT 0 1"


def deleted() -> ProfileDeleted:
    return ProfileDeleted(profile_id=uuid.uuid4(), kind="mentee", version=1)


async def test_an_event_queued_inside_a_span_carries_its_trace_context(
    spans: InMemorySpanExporter,
) -> None:
    conn = RecordingConnection()
    parent = tracing.extract({"traceparent": TRACEPARENT})
    with tracing.tracer().start_as_current_span("use case", context=parent) as span:
        await Outbox(conn, producer="profile").publish(deleted())  # type: ignore[arg-type]
    headers = conn.inserted[0][-1]
    trace_id, span_id = ids(span)
    assert trace_id == TRACE_ID
    assert headers["traceparent"] == f"00-{TRACE_ID}-{span_id}-01"
    assert headers["event_type"] == "ProfileDeleted"


async def test_an_event_queued_outside_any_span_carries_no_trace_context() -> None:
    conn = RecordingConnection()
    await Outbox(conn, producer="matching").publish(deleted())  # type: ignore[arg-type]
    assert "traceparent" not in conn.inserted[0][-1]


def test_the_producer_span_continues_the_stored_context_and_is_the_consumers_parent(
    spans: InMemorySpanExporter,
) -> None:
    stored = {"event_type": "MatchProposed", "traceparent": TRACEPARENT}
    publish = tracing.PublishSpan("ns.match.events", stored, "key-1")
    publish.end(RuntimeError("broker gone"))
    [span] = spans.get_finished_spans()
    assert span.name == "send ns.match.events"
    assert span.kind is SpanKind.PRODUCER
    assert parent_id(span) == PARENT_ID
    trace_id, span_id = ids(span)
    assert trace_id == TRACE_ID
    # The record goes out naming the producer span as its parent, not the stored one.
    assert publish.headers["traceparent"] == f"00-{TRACE_ID}-{span_id}-01"
    assert publish.headers["event_type"] == "MatchProposed"
    assert span.status.status_code is StatusCode.ERROR


async def test_the_consumer_span_is_a_child_of_the_records_trace_context(
    spans: InMemorySpanExporter,
) -> None:
    consumer = EventConsumer("matcher", "profile.events")
    delivery = Delivery(
        topic="ns.profile.events",
        partition=2,
        offset=17,
        key=b"k",
        # An event type nobody handles: processed (ignored) without a database.
        value=json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "SomethingNew",
                "schema_version": 1,
                "occurred_at": "2026-01-01T00:00:00+00:00",
                "producer": "profile",
                "payload": {},
            }
        ).encode(),
        headers={"traceparent": TRACEPARENT},
    )
    assert await consumer.process(delivery) == "ignored"
    [span] = spans.get_finished_spans()
    assert span.name == "process ns.profile.events"
    assert span.kind is SpanKind.CONSUMER
    assert ids(span)[0] == TRACE_ID
    assert parent_id(span) == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["mentorship.outcome"] == "ignored"
    assert span.attributes["messaging.kafka.offset"] == 17


def test_a_stored_traceparent_is_continued_and_none_starts_a_new_trace(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span_continuing("deliver notification", TRACEPARENT) as span:
        assert tracing.current_traceparent() == f"00-{TRACE_ID}-{ids(span)[1]}-01"
    with tracing.span_continuing("deliver notification", None) as fresh:
        pass
    assert ids(span)[0] == TRACE_ID
    assert ids(fresh)[0] != TRACE_ID
    assert tracing.current_traceparent() is None  # outside any span


async def test_a_request_gets_a_server_span_named_after_its_route_under_the_callers_trace(
    spans: InMemorySpanExporter,
) -> None:
    app = FastAPI(telemetry=tracing.http_telemetry())
    seen: list[str | None] = []

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        seen.append(tracing.current_traceparent())
        return {"id": thing_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/v1/things/42", headers={"traceparent": TRACEPARENT})
        await client.get("/healthz")
    assert answer.status_code == 200
    # One span: none for /healthz, none for the endpoint's dependencies.
    [span] = spans.get_finished_spans()
    assert span.name == "GET /v1/things/{thing_id}"
    assert span.kind is SpanKind.SERVER
    assert parent_id(span) == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert seen == [f"00-{TRACE_ID}-{ids(span)[1]}-01"]


def log_line(formatter: logging.Formatter, *, in_span: bool) -> tuple[str, str, str]:
    """A line logged through a handler like the services' one; with the span's ids."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(TraceContext())
    logger = logging.getLogger("test.tracing.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if in_span:
            with tracing.span_continuing("work", TRACEPARENT) as span:
                logger.warning("inside", extra={"match_id": "m-1"})
            trace_id, span_id = ids(span)
        else:
            logger.warning("outside")
            trace_id = span_id = ""
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue().strip(), trace_id, span_id


def test_json_log_lines_inside_a_span_name_its_trace_and_span() -> None:
    line, trace_id, span_id = log_line(JsonFormatter("matching"), in_span=True)
    entry = json.loads(line)
    assert entry["trace_id"] == trace_id == TRACE_ID
    assert entry["span_id"] == span_id
    assert entry["match_id"] == "m-1"
    outside, _, _ = log_line(JsonFormatter("matching"), in_span=False)
    assert "trace_id" not in json.loads(outside)


def test_text_log_lines_show_a_short_trace_id() -> None:
    line, _, span_id = log_line(TextFormatter(), in_span=True)
    assert f"trace={TRACE_ID[:8]}" in line
    assert TRACE_ID not in line
    assert span_id not in line
    outside, _, _ = log_line(TextFormatter(), in_span=False)
    assert "trace=" not in outside


def test_an_empty_endpoint_means_no_exporter_and_a_bad_one_is_refused() -> None:
    assert settings(otel_exporter_otlp_endpoint="").otel_exporter_otlp_endpoint is None
    with pytest.raises(ValidationError, match="otel_exporter_otlp_endpoint"):
        settings(otel_exporter_otlp_endpoint="collector:4318")
    configured = tracing.configure_tracing("test", settings())
    assert not configured.exporting
    configured.shutdown()


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_with_an_endpoint_spans_are_posted_to_its_traces_path_until_shutdown(
    collector: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, received = collector
    configured = tracing.configure_tracing("test", settings(otel_exporter_otlp_endpoint=url + "/"))
    assert configured.exporting
    with tracing.tracer().start_as_current_span("exported-span"):
        pass
    configured.shutdown()
    assert [path for path, _ in received] == ["/v1/traces"]
    assert b"exported-span" in received[0][1]
    with tracing.tracer().start_as_current_span("after-shutdown"):
        pass
    assert len(received) == 1


def test_without_anything_taking_spans_they_carry_ids_but_are_not_recorded() -> None:
    provider = tracing._Provider()
    spans = provider.get_tracer("test")
    parent = tracing.extract({tracing.TRACEPARENT: TRACEPARENT})

    with spans.start_as_current_span("consume", context=parent) as child:
        assert not child.is_recording()
        assert ids(child)[0] == TRACE_ID  # the trace goes on
        assert ids(child)[1] != PARENT_ID
        assert child.get_span_context().trace_flags.sampled
        # What the outbox stores and the next service continues: this span as the parent.
        assert tracing.inject({})[tracing.TRACEPARENT] == f"00-{TRACE_ID}-{ids(child)[1]}-01"
        with spans.start_as_current_span("nested") as nested:
            assert ids(nested)[0] == TRACE_ID
    unsampled = tracing.extract({tracing.TRACEPARENT: f"00-{TRACE_ID}-{PARENT_ID}-00"})
    assert not spans.start_span("x", context=unsampled).get_span_context().trace_flags.sampled
    root = spans.start_span("root", context=tracing.extract({}))
    assert root.get_span_context().is_valid
    assert ids(root)[0] != TRACE_ID


def test_spans_are_recorded_once_an_exporter_or_a_processor_takes_them() -> None:
    provider = tracing._Provider()
    spans = provider.get_tracer("test")
    exporter = _Listener()
    tracing._EXPORTERS.join(exporter)
    try:
        assert spans.start_span("exported").is_recording()
    finally:
        tracing._EXPORTERS.leave(exporter)
    assert not spans.start_span("dropped").is_recording()

    recorder = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    with spans.start_as_current_span("recorded"):
        pass
    assert [span.name for span in recorder.get_finished_spans()] == ["recorded"]


class _Listener(SpanProcessor):
    """A span processor that takes spans and does nothing with them."""

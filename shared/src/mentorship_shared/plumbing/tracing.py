"""OpenTelemetry tracing: one trace from the HTTP request, through Kafka, to the SMTP send.

FastAPI makes the server span of each request (see `http_telemetry`), continuing the caller's
W3C `traceparent`. The trace context travels on in the headers of every event: `Outbox.publish`
stores the current context with the row, the relay publishes each row under a producer span
that is a child of the stored context (it runs long after the request), and `EventConsumer`
opens its consumer span as a child of the record's headers. Spans always get their ids, so trace ids
reach the logs and the next service; they are recorded, and leave the process, only when
OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over HTTP, in batches): recording a span (its
attributes, events, timings) costs some 50 microseconds, a dozen times a registration, for
nothing when no collector takes it.

One tracer provider per process (OpenTelemetry allows only one): the first service started in
a process creates it, and an SDK provider already in place (a test's) is used as it is.
Exporters come and go with the service that configured them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes

from .settings import HttpSettings

_TRACER_NAME = "mentorship_shared.plumbing"
#: The W3C header that carries trace id, parent span id and the sampled flag.
TRACEPARENT = "traceparent"
#: Operational routes polled by orchestrators and Prometheus: a trace each would be noise.
_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def tracer() -> trace.Tracer:
    """The plumbing's tracer from the process's provider. Kept while the provider stays: the
    SDK makes a new tracer on every request for one, at the cost of a span or two."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(_TRACER_NAME))
    return _tracer[1]


_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


class _Exporters(SpanProcessor):
    """Fans finished spans out to the exporting processors of the services running now.

    A provider cannot drop a processor, and a process may start and stop several services
    (the tests do); this one stays on the provider while exporters join and leave it."""

    def __init__(self) -> None:
        self._members: list[SpanProcessor] = []
        self._lock = threading.Lock()

    def join(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._members = [*self._members, processor]

    def leave(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._members = [member for member in self._members if member is not processor]

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for member in self._members:
            member.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for member in self._members:
            member.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(member.force_flush(timeout_millis) for member in self._members)

    @property
    def exporting(self) -> bool:
        return bool(self._members)


_EXPORTERS = _Exporters()


class _TracerRecordingWhenExported(trace.Tracer):
    """The SDK's tracer while something takes the spans; otherwise spans that are not recorded
    but carry the ids and the sampling decision the SDK would have given them, so trace
    context still reaches the logs, the outbox headers and the next service."""

    def __init__(self, sdk: sdk_trace.Tracer, provider: _Provider) -> None:
        self._sdk = sdk
        self._provider = provider

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        if self._provider.recording:
            return self._sdk.start_span(
                name,
                context,
                kind,
                attributes,
                links,
                start_time,
                record_exception,
                set_status_on_exception,
            )
        parent = trace.get_current_span(context).get_span_context()
        ids = self._sdk.id_generator
        trace_id = parent.trace_id if parent.is_valid else ids.generate_trace_id()
        sampled = self._sdk.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        flags = TraceFlags(
            TraceFlags.SAMPLED
            if sampled.decision == Decision.RECORD_AND_SAMPLE
            else TraceFlags.DEFAULT
        )
        return trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id,
                ids.generate_span_id(),
                is_remote=False,
                trace_flags=flags,
                trace_state=sampled.trace_state,
            )
        )

    @_agnosticcontextmanager  # as the API's own, so it serves async code too
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class _Provider(TracerProvider):
    """The SDK's provider, whose tracers record spans only while something takes them: an
    exporter of a running service, or a span processor added to the provider directly (a
    test's recorder)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._own_processors = 0

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        if span_processor is not _EXPORTERS:
            self._own_processors += 1

    @property
    def recording(self) -> bool:
        return self._own_processors > 0 or _EXPORTERS.exporting

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        sdk = super().get_tracer(*args, **kwargs)
        assert isinstance(sdk, sdk_trace.Tracer)
        return _TracerRecordingWhenExported(sdk, self)


_provider_lock = threading.Lock()
_providers_with_exporters: list[TracerProvider] = []


class Tracing:
    """What `configure_tracing` set up; `shutdown` exports what is left and detaches it."""

    def __init__(self, processor: SpanProcessor | None) -> None:
        self._processor = processor

    @property
    def exporting(self) -> bool:
        """Whether spans leave the process (an OTLP endpoint is configured)."""
        return self._processor is not None

    def shutdown(self) -> None:
        """Blocking: the last batch goes to the collector; one that does not answer holds this
        up for the exporter's timeout (10 s unless OTEL_EXPORTER_OTLP_TRACES_TIMEOUT says)."""
        processor, self._processor = self._processor, None
        if processor is not None:
            _EXPORTERS.leave(processor)
            processor.shutdown()


def configure_tracing(service_name: str, settings: HttpSettings) -> Tracing:
    """Make sure the process has an SDK tracer provider and, when OTEL_EXPORTER_OTLP_ENDPOINT
    is set, export this service's spans there. OTEL_SERVICE_NAME overrides `service_name`;
    OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG choose the sampler (default: always, or
    as the caller's traceparent says)."""
    with _provider_lock:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            name = os.environ.get("OTEL_SERVICE_NAME") or service_name
            provider = _Provider(resource=Resource.create({SERVICE_NAME: name}))
            trace.set_tracer_provider(provider)
        if provider not in _providers_with_exporters:
            provider.add_span_processor(_EXPORTERS)
            _providers_with_exporters.append(provider)
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return Tracing(None)
    # Imported only when used: the exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    _EXPORTERS.join(processor)
    return Tracing(processor)


# --- propagation ----------------------------------------------------------------------------


def inject(headers: Mapping[str, str], context: Context | None = None) -> dict[str, str]:
    """`headers` plus the trace context (`traceparent`, `tracestate`) of `context`, or of the
    current span; a stale trace context in `headers` is replaced."""
    carrier = {name: value for name, value in headers.items() if name not in _trace_fields()}
    propagate.inject(carrier, context=context)
    return carrier


def extract(headers: Mapping[str, str]) -> Context:
    """The trace context carried in `headers` (an empty context when there is none)."""
    return propagate.extract(headers)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for records that outlive it (mail intents)."""
    return inject({}).get(TRACEPARENT)


def _trace_fields() -> set[str]:
    return set(propagate.get_global_textmap().fields)


@contextlib.contextmanager
def span_continuing(
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """A current span that is a child of a stored `traceparent` (a new trace without one)."""
    span = start_span_continuing(name, traceparent, kind=kind, attributes=attributes)
    with trace.use_span(span, end_on_exit=True):
        yield span


def start_span_continuing(
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> trace.Span:
    """The span of `span_continuing` for work done in several steps: the caller makes it
    current for each step (`trace.use_span`) and ends it."""
    parent = extract({TRACEPARENT: traceparent}) if traceparent else Context()
    return tracer().start_span(name, context=parent, kind=kind, attributes=dict(attributes or {}))


# --- Kafka ----------------------------------------------------------------------------------


class PublishSpan:
    """The producer span of one outbox row: a child of the context stored with the row, and
    the parent the consumers see (`headers` carry it)."""

    def __init__(self, topic: str, stored_headers: Mapping[str, str], key: str | None) -> None:
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
        }
        if "event_type" in stored_headers:
            attributes["event_type"] = stored_headers["event_type"]
        if key is not None:
            attributes["messaging.kafka.message.key"] = key
        self.span = tracer().start_span(
            f"send {topic}",
            context=extract(stored_headers),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        self.headers = inject(stored_headers, trace.set_span_in_context(self.span))

    def end(self, result: object) -> None:
        """End the span with the broker's answer: record metadata, or the exception."""
        if isinstance(result, BaseException):
            self.span.record_exception(result)
            self.span.set_status(Status(StatusCode.ERROR, repr(result)))
        else:  # aiokafka's RecordMetadata
            partition, offset = getattr(result, "partition", None), getattr(result, "offset", None)
            if partition is not None:
                self.span.set_attribute("messaging.destination.partition.id", str(partition))
            if offset is not None:
                self.span.set_attribute("messaging.kafka.offset", offset)
        self.span.end()


@contextlib.contextmanager
def consumer_span(
    consumer: str, topic: str, partition: int, offset: int, headers: Mapping[str, str]
) -> Iterator[trace.Span]:
    """The current span while a consumer processes one record: a child of the producer span
    whose context the record's headers carry."""
    with tracer().start_as_current_span(
        f"process {topic}",
        context=extract(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "mentorship.consumer": consumer,
        },
    ) as span:
        yield span


# --- HTTP -----------------------------------------------------------------------------------


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def http_telemetry() -> TelemetryConfig:
    """FastAPI's own instrumentation: a server span per request, named after the route template
    (`POST /v1/mentees`), a child of the caller's `traceparent` if it sent one. Only the
    request span (no spans per dependency or serialisation), and no exporters of FastAPI's own:
    `configure_tracing` decides where spans go."""
    return {
        "tracing": True,
        "operation_spans": False,
        "metrics": False,  # Prometheus has them
        "logs": False,  # failures are logged, with the trace id
        "auto_configure": False,
        "exclude": _untraced,
    }


__all__ = (
    "TRACEPARENT",
    "PublishSpan",
    "Tracing",
    "configure_tracing",
    "consumer_span",
    "current_traceparent",
    "extract",
    "http_telemetry",
    "inject",
    "span_continuing",
    "start_span_continuing",
    "tracer",
)

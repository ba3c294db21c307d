"""Spans the code under test finished, kept in memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_recorder: InMemorySpanExporter | None = None


@contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Every span finished in this process while inside, in memory.

    The process has one tracer provider for good: the first user (this, or a service's
    `configure_tracing`) creates it, and the recorder is attached to it once."""
    global _recorder
    if _recorder is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _recorder = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_recorder))
    _recorder.clear()
    try:
        yield _recorder
    finally:
        _recorder.clear()


def trace_id_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return trace.format_trace_id(span.context.trace_id)

"""Prometheus metrics every service exposes on `GET /metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "events_published_total", "Events the outbox relay published to Kafka.", ["topic", "event_type"]
)
OUTBOX_PENDING = Gauge("outbox_pending", "Outbox rows waiting to be published.", ["service"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events a consumer finished with, by outcome (handled, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "event_type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "event_handler_seconds",
    "Time from receiving an event to committing its effect.",
    ["consumer", "event_type"],
)
HANDLER_RETRIES = Counter(
    "event_handler_retries_total", "Retries of failing event handlers.", ["consumer", "kind"]
)
DEAD_LETTERS = Counter(
    "dead_letters_total", "Messages parked on a dead-letter topic.", ["consumer", "topic", "reason"]
)

"""Prometheus metrics every service exposes on `GET /metrics`.

One registry (prometheus_client's default) per process, every name prefixed `mentorship_`.
Counters and histograms are updated where things happen; the gauges that describe state
(outbox backlog, consumer lag) are refreshed just before each scrape by
`ServiceRuntime.refresh_metrics`. Prometheus adds `job` and `instance` when it scrapes, so the
service is not a label, except on gauges several in-process services of a test share.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# --- events: the plumbing every service shares -----------------------------------------------

EVENTS_PUBLISHED = Counter(
    "mentorship_events_published_total",
    "Events (and dead letters) the outbox relay published to Kafka, by topic and event type.",
    ["topic", "event_type"],
)
EVENTS_CONSUMED = Counter(
    "mentorship_events_consumed_total",
    "Events a consumer finished with, by outcome (handled, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "event_type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "mentorship_event_handler_seconds",
    "Time from receiving an event to committing its effect, retries included.",
    ["consumer", "event_type"],
)
HANDLER_RETRIES = Counter(
    "mentorship_event_handler_retries_total",
    "Retries of failing event handlers (kind: error in the handler, or transient database outage).",
    ["consumer", "kind"],
)
DEAD_LETTERS = Counter(
    "mentorship_dead_letters_total",
    "Messages parked on the dead-letter topic of `topic`, by reason.",
    ["consumer", "topic", "reason"],
)
OUTBOX_PENDING = Gauge(
    "mentorship_outbox_pending",
    "Outbox rows waiting to be published (refreshed at every scrape).",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "mentorship_consumer_lag",
    "Records on a partition this consumer has not taken yet: the partition's last known high "
    "watermark minus the consumer's position (refreshed at every scrape; assigned partitions only).",
    ["service", "consumer", "topic", "partition"],
)

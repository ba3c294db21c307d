"""The matcher's own Prometheus metrics, beside the plumbing's (`mentorship_shared.plumbing.
metrics`) on the service's `GET /metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MATCH_TRANSITIONS = Counter(
    "mentorship_match_transitions_total",
    "Matches that entered a status (proposed, accepted, declined, expired), counted where the "
    "event is written to the outbox; a transaction rolled back afterwards (a retried handler) "
    "can leave one counted twice, `mentorship_events_published_total` counts what committed.",
    ["status"],
)
MATCHES = Gauge(
    "mentorship_matches",
    "Matches in the matching database by current status (refreshed at every scrape).",
    ["status"],
)
MATCH_SCORE = Histogram(
    "mentorship_match_score",
    "Score (0 to 1) of every proposed match, by origin (online, request, round).",
    ["origin"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)

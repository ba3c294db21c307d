"""The mentorship service's own Prometheus metrics (the plumbing's are in
`mentorship_shared.plumbing.metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

#: The statuses a mentorship can have (the `mentorships.status` check constraint).
MENTORSHIP_STATUSES = ("active", "completed", "ended_early", "lapsed")

MENTORSHIPS = Gauge(
    "mentorship_mentorships",
    "Mentorships in the mentorship database by current status (refreshed at every scrape).",
    ["status"],
)
SCHEDULED_EVENTS = Counter(
    "mentorship_scheduled_events_total",
    "Events the scheduler raised because time passed (CheckInReminderIssued, CheckInMissed, "
    "MentorshipEnded for a lapse, MentorshipOutcomeRecorded), counted once committed.",
    ["event_type"],
)

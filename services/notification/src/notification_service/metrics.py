"""The notification service's own Prometheus metrics (the plumbing's are in
`mentorship_shared.plumbing.metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

EMAILS_SENT = Counter(
    "mentorship_emails_sent_total",
    "Mails the mail server accepted, by template.",
    ["template"],
)
EMAILS_FAILED = Counter(
    "mentorship_emails_failed_total",
    "Mails that failed, by template and outcome: 'retrying' (the send failed, another attempt "
    "is scheduled) or 'given_up' (no further attempt: the sends kept failing, failed for good, "
    "or the mail could not be built; NotificationFailed is published).",
    ["template", "outcome"],
)

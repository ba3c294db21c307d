"""What the operator console shows besides the matcher's own numbers: mails sent and failed
(the notification service) and, per service, the outbox backlog, consumer lag and dead letters,
all read from the services' Prometheus `/metrics` with prometheus_client's own parser."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

# --- the response --------------------------------------------------------------------------


class TemplateMail(BaseModel):
    template: str = Field(description="The mail's template.")
    sent: int = Field(ge=0, description="Mails the mail server accepted.")
    retrying: int = Field(ge=0, description="Failed sends that are tried again.")
    given_up: int = Field(ge=0, description="Mails given up on: nobody got them.")


class NotificationPanel(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description="Whether the notification service's /metrics answered."
    )
    detail: str | None = Field(description="Why it is unavailable.")
    sent: int | None = Field(description="Mails sent since the service started.")
    retrying: int | None = Field(description="Failed sends that were retried, since start.")
    given_up: int | None = Field(description="Mails given up on, since start.")
    by_template: list[TemplateMail] = Field(description="The same per template.")


class ConsumerLag(BaseModel):
    consumer: str = Field(description="The consumer (group) name.")
    topic: str = Field(description="The topic it reads.")
    lag: int = Field(ge=0, description="Records waiting for it, over its assigned partitions.")


class ServicePipeline(BaseModel):
    service: str = Field(description="profile, matching or notification.")
    status: Literal["ok", "unavailable"] = Field(description="Whether its metrics were read.")
    detail: str | None = Field(description="Why they were not.")
    outbox_pending: int | None = Field(description="Events committed, not yet published.")
    consumer_lag: list[ConsumerLag] = Field(description="Lag per consumer and topic.")
    dead_letters: int | None = Field(description="Messages dead-lettered since it started.")


class ConsoleView(BaseModel):
    """Everything the page draws: the matcher's panels as `GET /v1/operator/stats` gives them,
    then the mail and pipeline panels read from every service's /metrics."""

    generated_at: datetime = Field(description="When the matcher read its numbers (database time).")
    mentees: dict[str, Any] = Field(description="Mentees waiting and for how long (the matcher's).")
    mentors: dict[str, Any] = Field(description="Mentor load against capacity (the matcher's).")
    proposals: dict[str, Any] = Field(
        description="Proposals by status and acceptance over time (the matcher's)."
    )
    skills: dict[str, Any] = Field(
        description="Skills in demand against the strengths on offer (the matcher's)."
    )
    notifications: NotificationPanel = Field(description="Mails sent and failed.")
    pipeline: list[ServicePipeline] = Field(
        description="Per service: outbox backlog and consumer lag."
    )


# --- reading Prometheus text ---------------------------------------------------------------


@dataclass
class ServiceMetrics:
    """What the console takes from one service's /metrics."""

    outbox_pending: int = 0
    #: (consumer, topic) -> lag summed over partitions
    consumer_lag: dict[tuple[str, str], int] = field(default_factory=dict)
    dead_letters: int = 0
    #: template -> mails sent
    sent: dict[str, int] = field(default_factory=dict)
    #: (template, outcome) -> failures
    failed: dict[tuple[str, str], int] = field(default_factory=dict)


def parse_metrics(text: str, *, service: str | None = None) -> ServiceMetrics:
    """The console's numbers from Prometheus text exposition. Gauges that carry a `service`
    label count only for `service` when it is given (services run in one test process share
    one registry). Raises ValueError for text that is not the exposition format."""
    found = ServiceMetrics()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if service is not None and labels.get("service", service) != service:
                continue
            value = int(sample.value) if math.isfinite(sample.value) else 0
            if sample.name == "mentorship_outbox_pending":
                found.outbox_pending += value
            elif sample.name == "mentorship_consumer_lag":
                key = (labels.get("consumer", ""), labels.get("topic", ""))
                found.consumer_lag[key] = found.consumer_lag.get(key, 0) + value
            elif sample.name == "mentorship_dead_letters_total":
                found.dead_letters += value
            elif sample.name == "mentorship_emails_sent_total":
                template = labels.get("template", "")
                found.sent[template] = found.sent.get(template, 0) + value
            elif sample.name == "mentorship_emails_failed_total":
                key = (labels.get("template", ""), labels.get("outcome", ""))
                found.failed[key] = found.failed.get(key, 0) + value
    return found


# --- panels --------------------------------------------------------------------------------


def pipeline_view(
    service: str, metrics: ServiceMetrics | None, detail: str | None = None
) -> ServicePipeline:
    if metrics is None:
        return ServicePipeline(
            service=service,
            status="unavailable",
            detail=detail,
            outbox_pending=None,
            consumer_lag=[],
            dead_letters=None,
        )
    return ServicePipeline(
        service=service,
        status="ok",
        detail=None,
        outbox_pending=metrics.outbox_pending,
        consumer_lag=[
            ConsumerLag(consumer=consumer, topic=topic, lag=max(0, lag))
            for (consumer, topic), lag in sorted(metrics.consumer_lag.items())
        ],
        dead_letters=metrics.dead_letters,
    )


def notification_view(metrics: ServiceMetrics | None, detail: str | None) -> NotificationPanel:
    if metrics is None:
        return NotificationPanel(
            status="unavailable",
            detail=detail,
            sent=None,
            retrying=None,
            given_up=None,
            by_template=[],
        )
    templates = sorted(set(metrics.sent) | {template for template, _ in metrics.failed})
    rows = [
        TemplateMail(
            template=template,
            sent=metrics.sent.get(template, 0),
            retrying=metrics.failed.get((template, "retrying"), 0),
            given_up=metrics.failed.get((template, "given_up"), 0),
        )
        for template in templates
    ]
    return NotificationPanel(
        status="ok",
        detail=None,
        sent=sum(row.sent for row in rows),
        retrying=sum(row.retrying for row in rows),
        given_up=sum(row.given_up for row in rows),
        by_template=rows,
    )

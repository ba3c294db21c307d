"""One trace from a registration request to the mails it leads to: the three services
in-process against the real database, broker and SMTP server, spans kept in memory."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from matching_service.app import create_app as create_matching_app
from matching_service.config import MatchingSettings
from notification_service.app import create_app as create_notification_app
from notification_service.config import NotificationSettings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from profile_service.app import create_app as create_profile_app
from profile_service.config import ProfileSettings

from tests.support.services import FAST_KAFKA, OPERATOR_KEY, eventually, serve_in_process
from tests.support.tracing import recorded_spans, trace_id_of

pytestmark = pytest.mark.integration


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return trace.format_span_id(span.context.span_id)


def parent_id(span: ReadableSpan) -> str | None:
    return trace.format_span_id(span.parent.span_id) if span.parent is not None else None


def attribute(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


async def test_a_registration_and_the_mails_it_leads_to_share_one_trace(
    new_database: Callable[[str], Awaitable[str]],
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "kafka_topic_namespace": namespace,
        "operator_api_key": OPERATOR_KEY,
        **FAST_KAFKA,
    }
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with recorded_spans() as exporter:
        async with AsyncExitStack() as stack:
            profile = await stack.enter_async_context(
                serve_in_process(
                    create_profile_app(
                        ProfileSettings(database_url=await new_database("profile"), **common)
                    )
                )
            )
            matching = await stack.enter_async_context(
                serve_in_process(
                    create_matching_app(
                        MatchingSettings(database_url=await new_database("matching"), **common)
                    ),
                    bearer=OPERATOR_KEY,
                )
            )
            await stack.enter_async_context(
                serve_in_process(
                    create_notification_app(
                        NotificationSettings(
                            database_url=await new_database("notification"),
                            smtp_host="127.0.0.1",
                            smtp_port=smtp_sink.port,
                            dispatcher_poll_interval_seconds=0.2,
                            **common,
                        )
                    )
                )
            )
            mentor = await profile.post(
                "/v1/mentors",
                json={
                    "name": "Priya Pricing",
                    "email": f"priya-{unique}@example.com",
                    "timezone": "Europe/London",
                    "languages": ["en"],
                    "capacity": 2,
                    "was_engineer": True,
                    "skills": [{"skill": "pricing_monetisation", "level": 5}],
                },
            )
            assert mentor.status_code == 201, mentor.text
            # Otherwise the mentor's own event may reach the matcher last and make the
            # proposal, in the mentor's trace.
            await eventually(
                lambda: matching.get(f"/v1/mentors/{mentor.json()['id']}"),
                lambda answer: answer.status_code == 200,
            )
            mentee = await profile.post(
                "/v1/mentees",
                headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
                json={
                    "name": "Erin Engineer",
                    "email": f"erin-{unique}@example.com",
                    "timezone": "Europe/Berlin",
                    "languages": ["en"],
                    "skills": [{"skill": "pricing_monetisation", "current": 1, "target": 4}],
                },
            )
            assert mentee.status_code == 201, mentee.text

            def in_trace() -> list[ReadableSpan]:
                return [s for s in exporter.get_finished_spans() if trace_id_of(s) == trace_id]

            async def traced() -> list[ReadableSpan]:
                return in_trace()

            # Both proposal mails sent, and marked sent (their deliver spans ended).
            spans = await eventually(
                traced,
                lambda found: [s.name for s in found].count("deliver notification") >= 2,
                timeout=40.0,
            )
        by_name: dict[str, list[ReadableSpan]] = {}
        for span in spans:
            by_name.setdefault(span.name, []).append(span)

    [request] = by_name["POST /v1/mentees"]
    assert parent_id(request) == caller_span
    # The registration event, published by the relay under the request's trace...
    [registered] = by_name[f"send {namespace}profile.events"]
    assert attribute(registered, "event_type") == "MenteeRegistered"
    # ...is processed by the matcher and by the notifier, each a child of the producer span.
    processed = by_name[f"process {namespace}profile.events"]
    assert sorted(attribute(s, "mentorship.consumer") for s in processed) == [
        "matching/profile-events",
        "notification/profile-events",
    ]
    assert {parent_id(s) for s in processed} == {span_id(registered)}
    # The matcher's MatchProposed goes on in the same trace to the notifier's mail intents.
    [proposed] = by_name[f"send {namespace}match.events"]
    assert attribute(proposed, "event_type") == "MatchProposed"
    [queued] = by_name[f"process {namespace}match.events"]
    assert parent_id(queued) == span_id(proposed)
    assert attribute(queued, "mentorship.outcome") == "handled"
    # The dispatcher sends each mail later, continuing the consumer that queued it.
    delivered = by_name["deliver notification"]
    assert {parent_id(s) for s in delivered} == {span_id(queued)}
    sends = by_name["smtp send"]
    assert len(sends) == 2
    assert {parent_id(s) for s in sends} == {span_id(s) for s in delivered}
    assert {attribute(s, "server.port") for s in sends} == {smtp_sink.port}
    # The mentor's registration, sent without a traceparent, is a trace of its own.
    assert all(parent_id(s) is not None for s in spans if s is not request)

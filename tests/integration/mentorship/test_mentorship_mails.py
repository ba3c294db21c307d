"""Mentorship events become mail: the mentorship and notification services in-process on
their own databases, one broker, a real SMTP server; never a mail twice."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from mentorship_service.app import create_app as create_mentorship
from mentorship_shared.contracts.topics import MENTORSHIP_EVENTS
from notification_service.app import create_app as create_notification

from tests.support.kafka import produce
from tests.support.services import (
    OPERATOR_KEY,
    eventually,
    mail_received,
    mentorship_settings,
    notifier_settings,
    serve_in_process,
)

from .conftest import (
    MovableClock,
    accepted_pair,
    mentorship_events,
    of_type,
    started_mentorship,
)

pytestmark = pytest.mark.integration


def subjects_to(mails: list[EmailMessage], address: str) -> list[str]:
    return [str(m["Subject"]) for m in mails if m["To"].addresses[0].addr_spec == address]


async def test_reminders_and_the_start_reach_both_people_once(
    new_database: Callable[[str], Awaitable[str]],
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    smtp_sink: SmtpSink,
) -> None:
    notifier = create_notification(
        notifier_settings(
            await new_database("notification"), kafka, namespace, smtp_port=smtp_sink.port
        )
    )
    mentorships = create_mentorship(
        mentorship_settings(await new_database("mentorship"), kafka, namespace), clock=clock
    )
    async with (
        serve_in_process(notifier, bearer=OPERATOR_KEY) as notifications,
        serve_in_process(mentorships, bearer=OPERATOR_KEY) as service,
    ):
        pair = await accepted_pair(kafka, namespace, clock)
        mentorship = await started_mentorship(service, pair)
        mentee_address, mentor_address = pair.mentee.email, pair.mentor.email

        # The match's own "accepted" mails and the mentorship's "first steps", to each side.
        mails = await mail_received(smtp_sink, 4)
        assert f"Your mentorship with {pair.mentor.name}: first steps" in subjects_to(
            mails, mentee_address
        )
        starts = [m for m in mails if "first steps" in str(m["Subject"])]
        assert f"Mentorship reference: {mentorship['id']}" in starts[0].get_content()

        clock.advance(timedelta(days=12))
        mails = await mail_received(smtp_sink, 6)
        reminders = [m for m in mails if "is due by" in str(m["Subject"])]
        assert sorted(m["To"].addresses[0].addr_spec for m in reminders) == sorted(
            [mentee_address, mentor_address]
        )

        # The reminder event delivered again (a replay of the topic): no third reminder.
        events = await mentorship_events(
            kafka, namespace, lambda es: bool(of_type(es, "CheckInReminderIssued"))
        )
        reminder = of_type(events, "CheckInReminderIssued")[0]
        await produce(
            kafka.bootstrap_servers,
            f"{namespace}{MENTORSHIP_EVENTS}",
            [json.dumps(reminder).encode()],
            key=reminder["payload"]["mentorship_id"].encode(),
        )
        # A marker after the replay on the same key: once its mails are out, the replay has
        # been handled too.
        log = await service.post(
            f"/v1/mentorships/{mentorship['id']}/check-ins",
            json={"discussed": "Pricing", "next_step": "Draft"},
            headers=pair.as_mentee,
        )
        assert log.status_code == 201
        mails = await mail_received(smtp_sink, 8)
        assert len([m for m in mails if "is due by" in str(m["Subject"])]) == 2
        assert len([m for m in mails if "going?" in str(m["Subject"])]) == 2

        async def sent() -> list[dict[str, object]]:
            response: httpx.Response = await notifications.get("/v1/notifications")
            found: list[dict[str, object]] = response.json()["notifications"]
            return found

        log_rows = await eventually(
            sent, lambda ns: len(ns) == 8 and all(n["status"] == "sent" for n in ns)
        )
        assert {n["source_event_type"] for n in log_rows} == {
            "MatchAccepted",
            "MentorshipStarted",
            "CheckInReminderIssued",
            "FeedbackRequested",
        }

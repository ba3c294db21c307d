"""Sign-in links by mail, on the notification service in-process against real PostgreSQL,
Kafka and an SMTP sink: one mail per request however often the event arrives, the link gone
from the database once the mail is sent, and no mail for a link that would arrive dead."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import SignInLinkRequested
from notification_service.app import create_app

from tests.integration.notification.test_notification_service import (
    notifications,
    publish_profile_events,
)
from tests.support.profiles import mentee, registered
from tests.support.services import (
    OPERATOR_KEY,
    eventually,
    mail_received,
    notifier_settings,
    serve_in_process,
)

pytestmark = pytest.mark.integration

WEB = "https://mentors.example.org"


@pytest.fixture
async def sign_in_notifier(
    notification_db: str, kafka: KafkaHandle, namespace: str, smtp_sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = notifier_settings(
        notification_db, kafka, namespace, smtp_port=smtp_sink.port, web_base_url=WEB
    )
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY) as client:
        yield client


def link_event(profile_id: uuid.UUID, token: str, expires_at: datetime) -> bytes:
    event = SignInLinkRequested(
        profile_id=profile_id, kind="mentee", link_token=token, expires_at=expires_at
    )
    return EventEnvelope.wrap(event, producer="profile").to_json()


async def test_the_link_is_mailed_once_and_not_kept_after_sending(
    sign_in_notifier: httpx.AsyncClient,
    notification_db: str,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=f"ada-{unique}@x.org")
    token = f"link-token-{unique}"
    event = link_event(engineer.profile_id, token, datetime.now(UTC) + timedelta(minutes=15))
    key = str(engineer.profile_id).encode()
    await publish_profile_events(kafka, namespace, [registered(engineer), event, event], key=key)

    [mail] = await mail_received(smtp_sink, 1)
    assert str(mail["To"]) == f"Ada <ada-{unique}@x.org>"
    assert str(mail["Subject"]) == "Your sign-in link"
    assert f"{WEB}/sign-in/link?token={token}" in mail.get_content()

    sent = await eventually(
        lambda: notifications(sign_in_notifier),
        lambda found: len(found) == 1 and found[0]["status"] == "sent",
    )
    assert sent[0]["source_event_type"] == "SignInLinkRequested"
    conn = await asyncpg.connect(notification_db)
    try:
        stored = await conn.fetchval("SELECT string_agg(context::text, ' ') FROM notifications")
    finally:
        await conn.close()
    assert token not in stored
    # The event delivered twice, one mail: a later marker mail proves the second was read.
    marker = link_event(engineer.profile_id, "marker", datetime.now(UTC) + timedelta(minutes=5))
    await publish_profile_events(kafka, namespace, [marker], key=key)
    await mail_received(smtp_sink, 2)
    links = [m.get_content() for m in smtp_sink.messages()]
    assert sum(token in body for body in links) == 1


async def test_a_link_that_expired_before_it_could_go_out_is_not_mailed(
    sign_in_notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=f"ada-{unique}@x.org")
    key = str(engineer.profile_id).encode()
    dead = link_event(engineer.profile_id, "dead", datetime.now(UTC) - timedelta(seconds=1))
    alive = link_event(engineer.profile_id, "alive", datetime.now(UTC) + timedelta(minutes=15))
    await publish_profile_events(kafka, namespace, [registered(engineer), dead, alive], key=key)
    [mail] = await mail_received(smtp_sink, 1)
    assert "token=alive" in mail.get_content()
    found = await eventually(
        lambda: notifications(sign_in_notifier),
        lambda found: sorted(n["status"] for n in found) == ["failed", "sent"],
    )
    assert len(found) == 2

"""The notification service in-process: real database, real broker, real SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import MatchProposed, ProfileDeleted
from mentorship_shared.contracts.topics import MATCH_EVENTS, NOTIFICATION_EVENTS, PROFILE_EVENTS
from notification_service.app import create_app
from notification_service.config import NotificationSettings

from tests.support.kafka import events_of, produce, read_topic
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import FAST_KAFKA, eventually, mail_received, serve_in_process

pytestmark = pytest.mark.integration


@pytest.fixture
async def notification_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("notification")


@pytest.fixture
async def notifier(
    notification_db: str, kafka: KafkaHandle, namespace: str, smtp_sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotificationSettings(
        database_url=notification_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        dispatcher_poll_interval_seconds=0.2,
        **FAST_KAFKA,
    )
    async with serve_in_process(create_app(settings)) as client:
        yield client


def proposal(mentee_id: uuid.UUID, mentor_id: uuid.UUID) -> bytes:
    event = MatchProposed(
        match_id=uuid.uuid4(),
        mentee_id=mentee_id,
        mentor_id=mentor_id,
        score=0.82,
        score_breakdown={"similarity": 0.9, "coverage": 0.6},
        explanation="Covers your gap in pricing (you 1 -> 4, mentor 5).",
        covered_skills=["pricing_monetisation"],
        uncovered_skills=["go_to_market"],
        algorithm_version="skill-gap-v1",
    )
    return EventEnvelope.wrap(event, producer="matching").to_json()


async def notifications(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/notifications")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["notifications"]
    return found


async def test_both_people_get_one_mail_even_when_the_event_is_delivered_again(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    engineer = mentee(
        {"pricing_monetisation": (1, 4)}, name="Ada", email=f"ada-{unique}@example.com"
    )
    pm = mentor({"pricing_monetisation": 5}, name="Grace", email=f"grace-{unique}@example.com")
    match_event = proposal(engineer.profile_id, pm.profile_id)
    # The match arrives before the contacts: the mails wait for them instead of failing.
    await produce(kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", [match_event], key=b"m")
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        [registered(engineer), registered(pm)],
    )

    mails = await mail_received(smtp_sink, 2)
    by_recipient = {str(m["To"]): m for m in mails}
    assert set(by_recipient) == {
        f"Ada <ada-{unique}@example.com>",
        f"Grace <grace-{unique}@example.com>",
    }
    to_mentee = by_recipient[f"Ada <ada-{unique}@example.com>"]
    assert "Grace" in str(to_mentee["Subject"])
    assert "Covers your gap in pricing" in to_mentee.get_content()
    assert f"grace-{unique}@example.com" not in to_mentee.get_content()

    # Delivered again (a consumer restart, a replay): nothing more is sent.
    await produce(kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", [match_event], key=b"m")
    marker_mentee = mentee(
        {"go_to_market": (0, 3)}, name="Marker", email=f"marker-{unique}@example.com"
    )
    marker_mentor = mentor({"go_to_market": 4}, name="Tracer", email=f"tracer-{unique}@example.com")
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        [registered(marker_mentee), registered(marker_mentor)],
    )
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        [proposal(marker_mentee.profile_id, marker_mentor.profile_id)],
        key=b"m",
    )
    await mail_received(smtp_sink, 4)
    recipients = [str(m["To"]) for m in smtp_sink.messages()]
    assert recipients.count(f"Ada <ada-{unique}@example.com>") == 1
    assert recipients.count(f"Grace <grace-{unique}@example.com>") == 1

    log = await eventually(lambda: notifications(notifier), lambda ns: len(ns) == 4)
    assert {n["status"] for n in log} == {"sent"}
    assert all(n["recipient"] and "***@" in n["recipient"] for n in log)
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{NOTIFICATION_EVENTS}",
        until=lambda rs: len(events_of(rs, "NotificationSent")) >= 4,
    )
    message_ids = {e["payload"]["message_id"] for e in events_of(records, "NotificationSent")}
    assert message_ids == {str(m["Message-ID"]) for m in smtp_sink.messages()}


async def test_an_unreachable_mail_server_is_retried_then_reported_failed(
    notification_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    settings = NotificationSettings(
        database_url=notification_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        smtp_host="127.0.0.1",
        smtp_port=1,  # nothing listens here
        send_max_attempts=2,
        send_retry_base_seconds=0.1,
        dispatcher_poll_interval_seconds=0.1,
        **FAST_KAFKA,
    )
    engineer = mentee({"pricing_monetisation": (1, 4)}, email=f"ada-{unique}@example.com")
    pm = mentor({"pricing_monetisation": 5}, email=f"grace-{unique}@example.com")
    async with serve_in_process(create_app(settings)) as client:
        await produce(
            kafka.bootstrap_servers,
            f"{namespace}{PROFILE_EVENTS}",
            [registered(engineer), registered(pm)],
        )
        await produce(
            kafka.bootstrap_servers,
            f"{namespace}{MATCH_EVENTS}",
            [proposal(engineer.profile_id, pm.profile_id)],
        )
        log = await eventually(
            lambda: notifications(client),
            lambda ns: len(ns) == 2 and all(n["status"] == "failed" for n in ns),
        )
    assert all(n["attempts"] == 2 and n["last_error"] for n in log)
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{NOTIFICATION_EVENTS}",
        until=lambda rs: len(events_of(rs, "NotificationFailed")) >= 2,
    )
    assert not events_of(records, "NotificationSent")


async def test_a_deleted_profile_is_forgotten_and_its_pending_mail_cancelled(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    notification_db: str,
    unique: str,
) -> None:
    engineer = mentee({"pricing_monetisation": (1, 4)}, email=f"gone-{unique}@example.com")
    ghost_mentor = uuid.uuid4()  # never registered: the mail to the mentee waits for it
    deleted = EventEnvelope.wrap(
        ProfileDeleted(profile_id=engineer.profile_id, kind="mentee", version=2), producer="profile"
    ).to_json()
    key = str(engineer.profile_id).encode()
    registration = registered(engineer)
    await produce(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", [registration], key=key)
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        [proposal(engineer.profile_id, ghost_mentor)],
    )
    await eventually(lambda: notifications(notifier), lambda ns: len(ns) == 2)
    # After the deletion: the same registration again (a replay) and a fresh copy of it (a
    # re-publication with a new event id). Neither may bring the contact back.
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        [deleted, registration, registered(engineer)],
        key=key,
    )

    conn = await asyncpg.connect(notification_db)
    try:
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = 'profile-events'"
            ),
            lambda n: n == 3,  # the replay is a duplicate event id: not processed twice
        )
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
        statuses = await conn.fetch("SELECT status FROM notifications")
        assert {r["status"] for r in statuses} == {"cancelled"}
    finally:
        await conn.close()

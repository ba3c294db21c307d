"""The notification service in-process: real database, real broker, real SMTP server."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    ProfileDeleted,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, NOTIFICATION_EVENTS, PROFILE_EVENTS
from notification_service.app import create_app

from tests.support.kafka import events_of, produce, read_topic
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import (
    OPERATOR_KEY,
    eventually,
    mail_received,
    notifier_settings,
    serve_in_process,
)

pytestmark = pytest.mark.integration


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


def wire(event: EventPayload) -> bytes:
    return EventEnvelope.wrap(event, producer="matching").to_json()


async def publish_profile_events(
    kafka: KafkaHandle, namespace: str, values: list[bytes], *, key: bytes | None = None
) -> None:
    """Events on the profile topic, as the profile service's relay publishes them."""
    await produce(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", values, key=key)


async def publish_match_events(
    kafka: KafkaHandle, namespace: str, values: list[bytes], *, key: bytes | None = None
) -> None:
    """Events on the match topic, as the matcher's relay publishes them."""
    await produce(kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", values, key=key)


def by_address(mails: list[EmailMessage]) -> dict[str, EmailMessage]:
    """The mails by the bare address they went to; fails if one address got two."""
    found = {str(m["To"].addresses[0].addr_spec): m for m in mails}
    assert len(found) == len(mails), [str(m["To"]) for m in mails]
    return found


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
    await publish_match_events(kafka, namespace, [match_event], key=b"m")
    await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])

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
    await publish_match_events(kafka, namespace, [match_event], key=b"m")
    marker_mentee = mentee(
        {"go_to_market": (0, 3)}, name="Marker", email=f"marker-{unique}@example.com"
    )
    marker_mentor = mentor({"go_to_market": 4}, name="Tracer", email=f"tracer-{unique}@example.com")
    await publish_profile_events(
        kafka, namespace, [registered(marker_mentee), registered(marker_mentor)]
    )
    await publish_match_events(
        kafka, namespace, [proposal(marker_mentee.profile_id, marker_mentor.profile_id)], key=b"m"
    )
    await mail_received(smtp_sink, 4)
    recipients = [str(m["To"]) for m in smtp_sink.messages()]
    assert recipients.count(f"Ada <ada-{unique}@example.com>") == 1
    assert recipients.count(f"Grace <grace-{unique}@example.com>") == 1

    # The sink holds a mail a moment before the dispatcher commits it as sent.
    log = await eventually(
        lambda: notifications(notifier),
        lambda ns: len(ns) == 4 and all(n["status"] == "sent" for n in ns),
    )
    assert {n["status"] for n in log} == {"sent"}
    assert all(n["recipient"] and "***@" in n["recipient"] for n in log)
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{NOTIFICATION_EVENTS}",
        until=lambda rs: len(events_of(rs, "NotificationSent")) >= 4,
    )
    message_ids = {e["payload"]["message_id"] for e in events_of(records, "NotificationSent")}
    assert message_ids == {str(m["Message-ID"]) for m in smtp_sink.messages()}


async def test_an_unreachable_mail_server_is_retried_then_reported_failed_and_counted(
    notification_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    settings = notifier_settings(
        notification_db,
        kafka,
        namespace,
        smtp_port=1,  # nothing listens here
        send_max_attempts=2,
        send_retry_base_seconds=0.1,
        dispatcher_poll_interval_seconds=0.1,
    )
    engineer = mentee({"pricing_monetisation": (1, 4)}, email=f"ada-{unique}@example.com")
    pm = mentor({"pricing_monetisation": 5}, email=f"grace-{unique}@example.com")
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY) as client:
        before = await scrape(client)
        await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])
        await publish_match_events(kafka, namespace, [proposal(engineer.profile_id, pm.profile_id)])
        log = await eventually(
            lambda: notifications(client),
            lambda ns: len(ns) == 2 and all(n["status"] == "failed" for n in ns),
        )

        def failed(samples: MetricSamples, outcome: str) -> float:
            return sample(
                samples,
                "mentorship_emails_failed_total",
                template="match_proposed",
                outcome=outcome,
            ) - sample(
                before, "mentorship_emails_failed_total", template="match_proposed", outcome=outcome
            )

        after = await eventually(lambda: scrape(client), lambda s: failed(s, "given_up") == 2)
        # Read while the service runs: the counter moves before the give-up's transaction
        # commits, and the relay publishes the NotificationFailed events only after it.
        records = await read_topic(
            kafka.bootstrap_servers,
            f"{namespace}{NOTIFICATION_EVENTS}",
            until=lambda rs: len(events_of(rs, "NotificationFailed")) >= 2,
        )
    # Each of the two mails: the first attempt failed and was retried, the second gave up.
    assert failed(after, "retrying") == 2
    assert sample(after, "mentorship_emails_sent_total", template="match_proposed") == sample(
        before, "mentorship_emails_sent_total", template="match_proposed"
    )
    assert all(n["attempts"] == 2 and n["last_error"] for n in log)
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
    await publish_profile_events(kafka, namespace, [registration], key=key)
    await publish_match_events(kafka, namespace, [proposal(engineer.profile_id, ghost_mentor)])
    await eventually(lambda: notifications(notifier), lambda ns: len(ns) == 2)
    # After the deletion: the same registration again (a replay) and a fresh copy of it (a
    # re-publication with a new event id). Neither may bring the contact back.
    await publish_profile_events(
        kafka, namespace, [deleted, registration, registered(engineer)], key=key
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


async def test_once_both_accept_each_gets_the_others_name_and_address(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    ada_email, grace_email = f"ada-{unique}@example.com", f"grace-{unique}@example.com"
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada_email)
    pm = mentor({"pricing_monetisation": 5}, name="Grace", email=grace_email)
    await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])
    accepted = MatchAccepted(
        match_id=uuid.uuid4(),
        mentee_id=engineer.profile_id,
        mentor_id=pm.profile_id,
        accepted_at=datetime.now(UTC),
    )
    await publish_match_events(kafka, namespace, [wire(accepted)])

    mails = by_address(await mail_received(smtp_sink, 2))
    assert set(mails) == {ada_email, grace_email}
    to_mentee, to_mentor = mails[ada_email], mails[grace_email]
    assert "Grace" in str(to_mentee["Subject"])
    assert f"You can reach Grace at {grace_email}." in to_mentee.get_content()
    assert f"You can reach Ada at {ada_email}." in to_mentor.get_content()
    assert str(accepted.match_id) in to_mentee.get_content()

    log = await eventually(
        lambda: notifications(notifier),
        lambda ns: len(ns) == 2 and all(n["status"] == "sent" for n in ns),
    )
    assert {n["source_event_type"] for n in log} == {"MatchAccepted"}


async def test_a_decline_is_told_to_both_and_a_mentees_reason_to_nobody(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    notification_db: str,
    unique: str,
) -> None:
    ada, grace, linus, barbara = (
        f"{name}-{unique}@example.com" for name in ("ada", "grace", "linus", "barbara")
    )
    turned_down = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada)
    busy_mentor = mentor({"pricing_monetisation": 5}, name="Grace", email=grace)
    hesitant = mentee({"go_to_market": (0, 3)}, name="Linus", email=linus)
    left_waiting = mentor({"go_to_market": 4}, name="Barbara", email=barbara)
    await publish_profile_events(
        kafka,
        namespace,
        [registered(p) for p in (turned_down, busy_mentor, hesitant, left_waiting)],
    )
    mentors_reason = "I am fully booked until June, sorry."
    mentees_reason = f"private-{unique}: I did not like the sound of their bio."
    by_mentor = MatchDeclined(
        match_id=uuid.uuid4(),
        mentee_id=turned_down.profile_id,
        mentor_id=busy_mentor.profile_id,
        declined_by="mentor",
        reason=mentors_reason,
    )
    by_mentee = MatchDeclined(
        match_id=uuid.uuid4(),
        mentee_id=hesitant.profile_id,
        mentor_id=left_waiting.profile_id,
        declined_by="mentee",
        reason=mentees_reason,
    )
    await publish_match_events(kafka, namespace, [wire(by_mentor), wire(by_mentee)])

    mails = by_address(await mail_received(smtp_sink, 4))
    assert set(mails) == {ada, grace, linus, barbara}
    # The mentor declined: the mentee hears why and that another mentor is being looked for.
    assert mentors_reason in mails[ada].get_content()
    assert "looking for another mentor" in mails[ada].get_content()
    assert "You declined the match with Ada" in str(mails[grace]["Subject"])
    # The mentee declined: the mentor hears the slot is free, and nobody reads the reason.
    assert "free again" in mails[barbara].get_content()
    assert "You declined the match with Barbara" in str(mails[linus]["Subject"])
    assert all(mentees_reason not in m.as_string() for m in mails.values())
    assert all(mentors_reason not in mails[a].as_string() for a in (grace, linus, barbara))

    await eventually(
        lambda: notifications(notifier),
        lambda ns: len(ns) == 4 and all(n["status"] == "sent" for n in ns),
    )
    conn = await asyncpg.connect(notification_db)
    try:
        kept = await conn.fetchval(
            "SELECT count(*) FROM notifications WHERE context::text LIKE $1", f"%private-{unique}%"
        )
    finally:
        await conn.close()
    assert kept == 0


async def test_a_match_ended_by_a_deletion_is_told_only_to_the_one_who_stayed(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    notification_db: str,
    unique: str,
) -> None:
    ada, grace = f"ada-{unique}@example.com", f"grace-{unique}@example.com"
    stays = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada)
    leaves = mentor({"pricing_monetisation": 5}, name="Grace", email=grace)
    marker_mentee = mentee({"go_to_market": (0, 3)}, email=f"marker-{unique}@example.com")
    marker_mentor = mentor({"go_to_market": 4}, email=f"tracer-{unique}@example.com")
    await publish_profile_events(
        kafka, namespace, [registered(p) for p in (stays, leaves, marker_mentee, marker_mentor)]
    )
    # The matcher's expiry overtakes the deletion: the event does not say who left, so
    # neither mail may go out yet.
    ended = MatchExpired(
        match_id=uuid.uuid4(),
        mentee_id=stays.profile_id,
        mentor_id=leaves.profile_id,
        reason="profile_deleted",
    )
    await publish_match_events(kafka, namespace, [wire(ended)])
    await eventually(lambda: notifications(notifier), lambda ns: len(ns) == 2)
    # Mail queued later goes out while the two wait.
    marker = MatchAccepted(
        match_id=uuid.uuid4(),
        mentee_id=marker_mentee.profile_id,
        mentor_id=marker_mentor.profile_id,
        accepted_at=datetime.now(UTC),
    )
    await publish_match_events(kafka, namespace, [wire(marker)])
    await mail_received(smtp_sink, 2)
    assert {ada, grace}.isdisjoint(by_address(smtp_sink.messages()))

    deleted = ProfileDeleted(profile_id=leaves.profile_id, kind="mentor", version=2)
    await publish_profile_events(
        kafka, namespace, [EventEnvelope.wrap(deleted, producer="profile").to_json()]
    )
    mails = by_address(await mail_received(smtp_sink, 3))
    assert grace not in mails
    to_mentee = mails[ada]
    assert "left the programme" in to_mentee.get_content()
    assert "looking for another mentor" in to_mentee.get_content()
    assert "Grace" not in to_mentee.as_string()

    # A later event about the pair: nothing goes to or about the erased mentor.
    late = MatchAccepted(
        match_id=ended.match_id,
        mentee_id=stays.profile_id,
        mentor_id=leaves.profile_id,
        accepted_at=datetime.now(UTC),
    )
    await publish_match_events(kafka, namespace, [wire(late)])
    # Until nothing is pending: a mail is at the sink a moment before it is committed as sent.
    log = await eventually(
        lambda: notifications(notifier),
        lambda ns: len(ns) == 6 and all(n["status"] != "pending" for n in ns),
    )
    conn = await asyncpg.connect(notification_db)
    try:
        rows = await conn.fetch(
            "SELECT source_event_type, recipient_role, status FROM notifications "
            "WHERE recipient_id = ANY($1::uuid[])",
            [stays.profile_id, leaves.profile_id],
        )
    finally:
        await conn.close()
    assert sorted((r["source_event_type"], r["recipient_role"], r["status"]) for r in rows) == [
        ("MatchAccepted", "mentee", "cancelled"),
        ("MatchAccepted", "mentor", "cancelled"),
        ("MatchExpired", "mentee", "sent"),
        ("MatchExpired", "mentor", "cancelled"),
    ]
    assert len(log) == 6
    assert len(smtp_sink.messages()) == 3


async def test_an_erased_person_is_anonymised_in_the_mail_history_of_both_sides(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    notification_db: str,
    unique: str,
) -> None:
    ada = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=f"ada-{unique}@example.com")
    grace_name, grace_email = f"Grace-{unique}", f"grace-{unique}@example.com"
    grace = mentor({"pricing_monetisation": 5}, name=grace_name, email=grace_email)
    barbara = mentor({"pricing_monetisation": 4}, name="Barbara", email=f"b-{unique}@example.com")
    reason = f"booked-{unique}: fully booked until June"
    await publish_profile_events(kafka, namespace, [registered(p) for p in (ada, grace, barbara)])
    declined = MatchDeclined(
        match_id=uuid.uuid4(),
        mentee_id=ada.profile_id,
        mentor_id=grace.profile_id,
        declined_by="mentor",
        reason=reason,
    )
    await publish_match_events(
        kafka,
        namespace,
        [
            proposal(ada.profile_id, grace.profile_id),
            wire(declined),
            proposal(ada.profile_id, barbara.profile_id),
        ],
        key=b"m",
    )
    await mail_received(smtp_sink, 6)
    conn = await asyncpg.connect(notification_db)
    try:
        # The NotificationSent events are published before the erasure, as they would be.
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'published' "
                "AND event_type = 'NotificationSent'"
            ),
            lambda n: n == 6,
        )
        assert await _mentions(conn, grace_name, grace_email, reason)  # the search finds them

        deleted = ProfileDeleted(profile_id=grace.profile_id, kind="mentor", version=2)
        await publish_profile_events(
            kafka, namespace, [EventEnvelope.wrap(deleted, producer="profile").to_json()]
        )
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM erased_profiles"), lambda n: n == 1
        )
        # A later decline by the erased mentor, with free text: recorded without it.
        late = declined.model_copy(update={"match_id": uuid.uuid4()})
        await publish_match_events(kafka, namespace, [wire(late)])
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM notifications"), lambda n: n == 8
        )

        assert await _mentions(conn, grace_name, grace_email, reason) == []
        rows = await conn.fetch(
            "SELECT recipient_id, counterpart_id, status, subject, context FROM notifications"
        )
        about_grace = [
            (r["status"], r["subject"], r["context"])
            for r in rows
            if grace.profile_id in (r["recipient_id"], r["counterpart_id"])
        ]
        # Both sides keep their history (who, when, what happened), without what named Grace:
        # the proposal and the decline were sent, the late decline never will be.
        assert sorted(about_grace, key=str) == sorted(
            [("sent", "[erased]", "{}")] * 4 + [("cancelled", None, "{}")] * 2, key=str
        )
        with_barbara = [r for r in rows if r["counterpart_id"] == barbara.profile_id]
        assert len(with_barbara) == 1
        assert "Barbara" in with_barbara[0]["subject"]
        assert "explanation" in json.loads(with_barbara[0]["context"])
        # The published events of Grace's own mails left the outbox; Ada's and Barbara's stay.
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'published' "
                "AND event_type = 'NotificationSent'"
            )
            == 4
        )
    finally:
        await conn.close()
    assert len(smtp_sink.messages()) == 6


async def _mentions(conn: asyncpg.Connection, *needles: str) -> list[str]:
    """Where in the database's tables any of `needles` occurs (bytea read as UTF-8)."""
    hits = []
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    for table in (t["table_name"] for t in tables):
        for row in await conn.fetch(f'SELECT * FROM "{table}"'):
            for column, value in row.items():
                text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                hits += [f"{table}.{column}: {n}" for n in needles if n.lower() in text.lower()]
    return hits


# --- A mentor's booking link in the accepted mail; the daily limit per recipient ---------

PUBLIC_BOOKING_URL = "https://93.184.215.14/cal/grace"


def accepted(mentee_id: uuid.UUID, mentor_id: uuid.UUID) -> bytes:
    return wire(
        MatchAccepted(
            match_id=uuid.uuid4(),
            mentee_id=mentee_id,
            mentor_id=mentor_id,
            accepted_at=datetime.now(UTC),
        )
    )


async def test_the_mentee_gets_the_mentors_booking_link_only_once_both_accepted(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    ada_email, grace_email = f"ada-{unique}@example.com", f"grace-{unique}@example.com"
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada_email)
    pm = mentor(
        {"pricing_monetisation": 5},
        name="Grace",
        email=grace_email,
        booking_url=PUBLIC_BOOKING_URL,
    )
    await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])
    await publish_match_events(
        kafka, namespace, [proposal(engineer.profile_id, pm.profile_id)], key=b"m"
    )
    proposed = by_address(await mail_received(smtp_sink, 2))
    assert PUBLIC_BOOKING_URL not in proposed[ada_email].get_content()

    await publish_match_events(
        kafka, namespace, [accepted(engineer.profile_id, pm.profile_id)], key=b"m"
    )
    mails = await mail_received(smtp_sink, 4)
    after = by_address([m for m in mails if "now" in str(m["Subject"])])
    assert f"Book a first call: {PUBLIC_BOOKING_URL}" in after[ada_email].get_content()
    assert PUBLIC_BOOKING_URL not in after[grace_email].get_content()


async def test_a_booking_link_that_now_resolves_to_a_private_address_is_left_out(
    notifier: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import notification_service.use_cases
    from mentorship_shared.plumbing import urls

    asked: list[str] = []

    async def rebound_dns(host: str) -> list[str]:
        asked.append(host)
        return ["10.0.0.1"]  # public when registered, private now

    async def check(url: str, **_: object) -> str:
        return await urls.check_public_url_async(url, resolver=rebound_dns)

    monkeypatch.setattr(notification_service.use_cases, "check_public_url_async", check)
    ada_email = f"ada-{unique}@example.com"
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada_email)
    pm = mentor(
        {"pricing_monetisation": 5},
        name="Grace",
        email=f"grace-{unique}@example.com",
        booking_url=f"https://cal.example.com/grace-{unique}",
    )
    await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])
    await publish_match_events(
        kafka, namespace, [accepted(engineer.profile_id, pm.profile_id)], key=b"m"
    )

    to_mentee = by_address(await mail_received(smtp_sink, 2))[ada_email].get_content()
    assert "Book a first call" not in to_mentee
    assert "cal.example.com" not in to_mentee
    assert f"You can reach Grace at grace-{unique}@example.com." in to_mentee
    assert asked == ["cal.example.com"]
    warnings = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(warnings) == 1
    assert "cal.example.com" in warnings[0]
    assert f"grace-{unique}" not in warnings[0]


async def test_past_the_daily_limit_a_recipients_mail_waits_and_goes_once_the_day_is_over(
    notification_db: str,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    settings = notifier_settings(
        notification_db,
        kafka,
        namespace,
        smtp_port=smtp_sink.port,
        dispatcher_poll_interval_seconds=0.2,
        mail_daily_limit_per_recipient=2,
    )
    ada_email = f"ada-{unique}@example.com"
    engineer = mentee({"pricing_monetisation": (1, 4)}, name="Ada", email=ada_email)
    pms = [
        mentor({"pricing_monetisation": 5}, name=f"PM{i}", email=f"pm{i}-{unique}@example.com")
        for i in range(3)
    ]
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY):
        await publish_profile_events(kafka, namespace, [registered(p) for p in (engineer, *pms)])
        await publish_match_events(
            kafka, namespace, [proposal(engineer.profile_id, pm.profile_id) for pm in pms], key=b"m"
        )
        conn = await asyncpg.connect(notification_db)
        try:
            # Every mentor gets theirs; the mentee two, and the third waits, still pending.
            waiting = await eventually(
                lambda: conn.fetch(
                    "SELECT id, attempts, last_error, next_attempt_at > now() AS later "
                    "FROM notifications WHERE status = 'pending'"
                ),
                lambda rows: len(rows) == 1 and rows[0]["later"],
            )
            await mail_received(smtp_sink, 5)
            recipients = [m["To"].addresses[0].addr_spec for m in smtp_sink.messages()]
            assert recipients.count(ada_email) == 2
            assert sorted(r for r in recipients if r != ada_email) == sorted(p.email for p in pms)
            assert waiting[0]["attempts"] == 0
            assert "daily limit of 2" in waiting[0]["last_error"]
            assert (
                await conn.fetchval(
                    "SELECT recipient_id FROM notifications WHERE id = $1", waiting[0]["id"]
                )
                == engineer.profile_id
            )
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE event_type = 'NotificationFailed'"
                )
                == 0
            )

            # A day later (the clock moved by moving the sends back) the waiting mail goes.
            await conn.execute(
                "UPDATE notifications SET sent_at = sent_at - interval '25 hours' "
                "WHERE status = 'sent'"
            )
            await conn.execute(
                "UPDATE notifications SET next_attempt_at = now() WHERE id = $1",
                waiting[0]["id"],
            )
            await mail_received(smtp_sink, 6)
            assert await eventually(
                lambda: conn.fetchval(
                    "SELECT status FROM notifications WHERE id = $1", waiting[0]["id"]
                ),
                lambda status: status == "sent",
            )
        finally:
            await conn.close()
    assert [m["To"].addresses[0].addr_spec for m in smtp_sink.messages()].count(ada_email) == 3


async def test_batches_of_mails_to_the_same_people_go_out_once_each_under_the_daily_limit(
    notification_db: str,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    # Four batches of three side by side; every batch holds mails to people other batches also
    # mail, in its own order. With the daily limit on, each send locks its recipient until the
    # batch commits: taken in batch order, two batches would wait for each other, PostgreSQL
    # would abort one, and the mails that batch had sent would go out a second time.
    settings = notifier_settings(
        notification_db,
        kafka,
        namespace,
        smtp_port=smtp_sink.port,
        mail_send_concurrency=12,
        mail_batch_size=3,
        mail_daily_limit_per_recipient=1000,
    )
    engineers = [
        mentee({"pricing_monetisation": (1, 4)}, name=f"E{i}", email=f"e{i}-{unique}@example.com")
        for i in range(3)
    ]
    pms = [
        mentor({"pricing_monetisation": 5}, name=f"P{i}", email=f"p{i}-{unique}@example.com")
        for i in range(4)
    ]
    pairs = [(e, p) for e in engineers for p in pms] * 2  # the same pairs, proposed twice
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY):
        await publish_profile_events(kafka, namespace, [registered(p) for p in (*engineers, *pms)])
        await publish_match_events(
            kafka, namespace, [proposal(e.profile_id, p.profile_id) for e, p in pairs], key=b"m"
        )
        await mail_received(smtp_sink, 2 * len(pairs))
        conn = await asyncpg.connect(notification_db)
        try:
            assert await eventually(
                lambda: conn.fetchval("SELECT count(*) FROM notifications WHERE status = 'sent'"),
                lambda sent: sent == 2 * len(pairs),
            )
        finally:
            await conn.close()
    message_ids = [str(m["Message-ID"]) for m in smtp_sink.messages()]
    assert len(message_ids) == 2 * len(pairs)
    assert len(set(message_ids)) == len(message_ids), "a mail went out twice"


async def test_a_page_size_above_the_maximum_gives_the_largest_page(
    notifier: httpx.AsyncClient, notification_db: str
) -> None:
    conn = await asyncpg.connect(notification_db)
    try:
        # Cancelled, so the dispatcher leaves them alone; more than the largest page.
        await conn.execute(
            """
            INSERT INTO notifications (id, source_event_id, source_event_type, recipient_id,
                                       recipient_role, template, context, status, message_id,
                                       created_at)
            SELECT gen_random_uuid(), gen_random_uuid(), 'MatchProposed', gen_random_uuid(),
                   'mentee', 'match_proposed', '{}', 'cancelled',
                   'clamp-' || n || '@example.com', now() - n * interval '1 second'
            FROM generate_series(1, 230) AS n
            """
        )
    finally:
        await conn.close()

    default_page = await notifier.get("/v1/notifications")
    largest = await notifier.get("/v1/notifications?limit=200")
    clamped = await notifier.get("/v1/notifications?limit=100000")

    for response in (default_page, largest, clamped):
        assert response.status_code == 200, response.text
    assert len(default_page.json()["notifications"]) == 50
    assert len(largest.json()["notifications"]) == 200
    assert clamped.json() == largest.json()


# --- /metrics -----------------------------------------------------------------------------

MetricSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> MetricSamples:
    """Every sample of `GET /metrics`, by name and sorted labels."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_mails_sent_and_failed(
    notifier: httpx.AsyncClient,
    notification_db: str,
    kafka: KafkaHandle,
    namespace: str,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    before = await scrape(notifier)
    engineer = mentee({"pricing_monetisation": (1, 4)}, email=f"ada-{unique}@example.com")
    pm = mentor({"pricing_monetisation": 5}, email=f"grace-{unique}@example.com")
    await publish_profile_events(kafka, namespace, [registered(engineer), registered(pm)])
    await publish_match_events(kafka, namespace, [proposal(engineer.profile_id, pm.profile_id)])
    await mail_received(smtp_sink, 2)
    sent = await eventually(
        lambda: scrape(notifier),
        lambda s: (
            sample(s, "mentorship_emails_sent_total", template="match_proposed")
            - sample(before, "mentorship_emails_sent_total", template="match_proposed")
            == 2
            and sample(
                s,
                "mentorship_events_published_total",
                topic=NOTIFICATION_EVENTS,
                event_type="NotificationSent",
            )
            - sample(
                before,
                "mentorship_events_published_total",
                topic=NOTIFICATION_EVENTS,
                event_type="NotificationSent",
            )
            >= 2
        ),
    )
    handled = {"topic": MATCH_EVENTS, "event_type": "MatchProposed", "outcome": "handled"}
    assert sample(
        sent, "mentorship_events_consumed_total", consumer="match-events", **handled
    ) > sample(before, "mentorship_events_consumed_total", consumer="match-events", **handled)

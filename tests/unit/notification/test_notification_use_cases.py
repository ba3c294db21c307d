"""Queueing mail intents for every step of a match and delivering them, with fakes for the
repository, the mail server and the outbox."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    CheckInMissed,
    CheckInReminderIssued,
    FeedbackRequested,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MentorshipEnded,
    MentorshipStarted,
    NotificationFailed,
    NotificationSent,
)
from notification_service.repository import (
    DueNotification,
    NotificationIntent,
    NotificationRepository,
)
from notification_service.templates import (
    CHECK_IN_MISSED,
    CHECK_IN_REMINDER,
    MATCH_ACCEPTED,
    MATCH_DECLINED,
    MATCH_EXPIRED,
    MATCH_PROPOSED,
    MENTORSHIP_ENDED,
    MENTORSHIP_STARTED,
    SURVEY_INVITATION,
)
from notification_service.use_cases import (
    DeliveryPolicy,
    MatchEvent,
    MentorshipEvent,
    deliver,
    queue_match_mails,
    queue_mentorship_mails,
)

from tests.support.fakes import FakeMailer, RecordingSink

SENT_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(
    mail_from="Mentorship Matching <noreply@mentorship.test>",
    message_id_domain="mentorship.test",
    max_attempts=4,
    retry_base_seconds=30.0,
    jitter=lambda: 0.5,  # the middle of the jitter range: the plain doubling
)


class FakeNotificationRepository(NotificationRepository):
    """The methods of `NotificationRepository` the use cases call, over lists and dicts.

    A subclass so that the type checker holds the overrides to the real signatures; any other
    method would fail loudly, since there is no connection behind it."""

    def __init__(self) -> None:  # no super().__init__: there is no database connection
        self.intents: dict[tuple[uuid.UUID, uuid.UUID], NotificationIntent] = {}
        self.sent: list[tuple[uuid.UUID, str]] = []
        self.failed: list[tuple[uuid.UUID, str, float | None]] = []

    async def add_intents(self, intents: Sequence[NotificationIntent]) -> int:
        new = 0
        for intent in intents:
            key = (intent.source_event_id, intent.recipient_id)  # one per event, recipient
            if key not in self.intents:
                self.intents[key] = intent
                new += 1
        return new

    async def mark_sent(self, subjects: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, datetime]:
        self.sent.extend(subjects.items())
        return dict.fromkeys(subjects, SENT_AT)

    async def mark_attempt_failed(
        self, notification_id: uuid.UUID, error: str, *, retry_in_seconds: float | None
    ) -> None:
        self.failed.append((notification_id, error, retry_in_seconds))


MENTEE_ID = uuid.UUID(int=1)
MENTOR_ID = uuid.UUID(int=2)


def match_proposed() -> tuple[EventEnvelope, MatchProposed]:
    event = MatchProposed(
        match_id=uuid.uuid4(),
        mentee_id=MENTEE_ID,
        mentor_id=MENTOR_ID,
        score=0.81,
        score_breakdown={"similarity": 0.8, "coverage": 0.83},
        explanation="Covers your gap in pricing (you 1 -> 5, mentor 5).",
        covered_skills=["pricing_monetisation"],
        uncovered_skills=["product_metrics"],
        algorithm_version="skill-gap-v1",
        expires_at=datetime(2025, 3, 14, tzinfo=UTC) + timedelta(hours=9),
    )
    return EventEnvelope.wrap(event, producer="matching"), event


async def queued_intents() -> tuple[FakeNotificationRepository, list[NotificationIntent]]:
    repo = FakeNotificationRepository()
    envelope, event = match_proposed()
    await queue_match_mails(repo, envelope, event, POLICY.message_id_domain)
    return repo, list(repo.intents.values())


def due(intent: NotificationIntent, attempts: int = 0) -> DueNotification:
    """As the repository reads it: both contacts known, the counterpart's address included
    (whether a mail may show it is for the templates to decide)."""
    if intent.recipient_role == "mentee":
        name, email = "Ada Engineer", "ada@example.com"
        counterpart, counterpart_email = "Grace PM", "grace@example.com"
    else:
        name, email = "Grace PM", "grace@example.com"
        counterpart, counterpart_email = "Ada Engineer", "ada@example.com"
    named = intent.counterpart_id is not None
    return DueNotification(
        intent=intent,
        attempts=attempts,
        recipient_name=name,
        recipient_email=email,
        counterpart_name=counterpart if named else None,
        counterpart_email=counterpart_email if named else None,
    )


# --- queue_match_mails: proposed -----------------------------------------------------------


async def test_one_intent_per_person_with_distinct_message_ids() -> None:
    repo = FakeNotificationRepository()
    envelope, event = match_proposed()

    queued = await queue_match_mails(repo, envelope, event, "mentorship.test")

    assert queued == 2
    intents = list(repo.intents.values())
    by_role = {i.recipient_role: i for i in intents}
    assert set(by_role) == {"mentee", "mentor"}
    assert (by_role["mentee"].recipient_id, by_role["mentee"].counterpart_id) == (
        MENTEE_ID,
        MENTOR_ID,
    )
    assert (by_role["mentor"].recipient_id, by_role["mentor"].counterpart_id) == (
        MENTOR_ID,
        MENTEE_ID,
    )
    message_ids = [i.message_id for i in intents]
    assert len(set(message_ids)) == 2
    for intent in intents:
        assert intent.source_event_id == envelope.event_id
        assert intent.source_event_type == "MatchProposed"
        assert intent.message_id == f"<{intent.id}@mentorship.test>"
        assert intent.context["match_id"] == str(event.match_id)
        assert intent.context["explanation"] == event.explanation
    assert len({i.id for i in intents}) == 2


async def test_queueing_the_same_event_again_adds_nothing() -> None:
    repo = FakeNotificationRepository()
    envelope, event = match_proposed()
    assert await queue_match_mails(repo, envelope, event, "mentorship.test") == 2
    before = dict(repo.intents)

    assert await queue_match_mails(repo, envelope, event, "mentorship.test") == 0

    assert repo.intents == before


async def test_queued_context_renders_into_a_deliverable_mail() -> None:
    repo, intents = await queued_intents()
    mailer, sink = FakeMailer(), RecordingSink()
    for intent in intents:
        assert await deliver(repo, sink, mailer, due(intent), POLICY) is True
    assert len(mailer.messages) == 2
    assert "2025-03-14" in mailer.messages[0].get_content()


# --- queue_match_mails: every step of a match ---------------------------------------------

ACCEPTED_AT = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
MENTEE_EMAIL, MENTOR_EMAIL = "ada@example.com", "grace@example.com"
MENTEES_SECRET = "Honestly, their profile photo put me off."
MENTORS_REASON = "I am fully booked until June."


def lifecycle(event: MatchEvent) -> tuple[EventEnvelope, MatchEvent]:
    return EventEnvelope.wrap(event, producer="matching"), event


def requested() -> MatchProposed:
    _, proposed = match_proposed()
    return proposed.model_copy(update={"origin": "request", "accepted_by": ["mentee"]})


def ids() -> dict[str, uuid.UUID]:
    return {"match_id": uuid.uuid4(), "mentee_id": MENTEE_ID, "mentor_id": MENTOR_ID}


EVENTS: dict[str, tuple[str, MatchEvent]] = {
    "proposed": (MATCH_PROPOSED, match_proposed()[1]),
    "requested": (MATCH_PROPOSED, requested()),
    "accepted": (MATCH_ACCEPTED, MatchAccepted(**ids(), accepted_at=ACCEPTED_AT)),
    "declined by mentor": (
        MATCH_DECLINED,
        MatchDeclined(**ids(), declined_by="mentor", reason=MENTORS_REASON),
    ),
    "declined by mentee": (
        MATCH_DECLINED,
        MatchDeclined(**ids(), declined_by="mentee", reason=MENTEES_SECRET),
    ),
    **{
        f"expired: {reason}": (MATCH_EXPIRED, MatchExpired(**ids(), reason=reason))
        for reason in (
            "timeout",
            "profile_deleted",
            "mentor_paused",
            "capacity_lowered",
            "profile_changed",
        )
    },
}
BEFORE_ACCEPTANCE = [name for name in EVENTS if name != "accepted"]


async def queued_for(name: str) -> tuple[FakeNotificationRepository, dict[str, NotificationIntent]]:
    repo = FakeNotificationRepository()
    envelope, event = lifecycle(EVENTS[name][1])
    assert await queue_match_mails(repo, envelope, event, POLICY.message_id_domain) == 2
    return repo, {i.recipient_role: i for i in repo.intents.values()}


async def delivered(name: str) -> dict[str, EmailMessage]:
    """Each side's mail for the event, sent through `deliver`."""
    repo, by_role = await queued_for(name)
    mails: dict[str, EmailMessage] = {}
    for role, intent in by_role.items():
        mailer = FakeMailer()
        assert await deliver(repo, RecordingSink(), mailer, due(intent), POLICY) is True
        [mails[role]] = mailer.messages
    return mails


@pytest.mark.parametrize("name", sorted(EVENTS))
async def test_every_step_queues_one_mail_per_side_and_only_once(name: str) -> None:
    template, event = EVENTS[name]
    repo = FakeNotificationRepository()
    envelope = EventEnvelope.wrap(event, producer="matching")

    assert await queue_match_mails(repo, envelope, event, "mentorship.test") == 2
    before = dict(repo.intents)
    assert await queue_match_mails(repo, envelope, event, "mentorship.test") == 0

    assert repo.intents == before
    by_role = {i.recipient_role: i for i in repo.intents.values()}
    assert set(by_role) == {"mentee", "mentor"}
    assert by_role["mentee"].recipient_id == MENTEE_ID
    assert by_role["mentor"].recipient_id == MENTOR_ID
    for intent in by_role.values():
        assert intent.template == template
        assert intent.source_event_id == envelope.event_id
        assert intent.source_event_type == event.event_type
        assert intent.context["match_id"] == str(event.match_id)
        assert intent.message_id == f"<{intent.id}@mentorship.test>"


@pytest.mark.parametrize("name", sorted(set(EVENTS) - {"expired: profile_deleted"}))
async def test_each_mail_names_the_other_side_and_waits_for_no_erasure(name: str) -> None:
    _, by_role = await queued_for(name)
    assert by_role["mentee"].counterpart_id == MENTOR_ID
    assert by_role["mentor"].counterpart_id == MENTEE_ID
    assert all(i.awaits_erasure_of is None for i in by_role.values())


async def test_after_a_deletion_mails_name_nobody_and_wait_for_the_other_side_to_go() -> None:
    _, by_role = await queued_for("expired: profile_deleted")
    assert by_role["mentee"].counterpart_id is None
    assert by_role["mentor"].counterpart_id is None
    assert by_role["mentee"].awaits_erasure_of == MENTOR_ID
    assert by_role["mentor"].awaits_erasure_of == MENTEE_ID


async def test_a_mentees_reason_for_declining_is_neither_kept_nor_sent() -> None:
    _, by_role = await queued_for("declined by mentee")
    assert all(MENTEES_SECRET not in repr(i.context) for i in by_role.values())

    mails = await delivered("declined by mentee")
    assert all(MENTEES_SECRET not in m.as_string() for m in mails.values())
    assert "decided not to go ahead" in mails["mentor"].get_content()
    assert "You declined" in mails["mentee"].get_content()


async def test_a_mentors_reason_for_declining_reaches_the_mentee_only() -> None:
    _, by_role = await queued_for("declined by mentor")
    assert by_role["mentee"].context["mentor_reason"] == MENTORS_REASON
    assert "mentor_reason" not in by_role["mentor"].context

    mails = await delivered("declined by mentor")
    assert MENTORS_REASON in mails["mentee"].get_content()
    assert "another mentor" in mails["mentee"].get_content()
    assert MENTORS_REASON not in mails["mentor"].get_content()
    assert "You declined" in mails["mentor"].get_content()


async def test_a_request_tells_the_mentor_the_mentee_asked_for_them() -> None:
    _, by_role = await queued_for("requested")
    assert by_role["mentor"].context["origin"] == "request"
    assert by_role["mentor"].context["accepted_by"] == ["mentee"]

    mails = await delivered("requested")
    assert "asked you to be their mentor" in mails["mentor"]["Subject"]
    assert "2025-03-14 at 09:00 UTC" in mails["mentor"].get_content()
    assert "request" in mails["mentee"]["Subject"]


async def test_the_accepted_mails_give_each_side_the_others_address() -> None:
    mails = await delivered("accepted")
    to_mentee, to_mentor = mails["mentee"].get_content(), mails["mentor"].get_content()
    assert "Grace PM" in to_mentee
    assert MENTOR_EMAIL in to_mentee
    assert "Ada Engineer" in to_mentor
    assert MENTEE_EMAIL in to_mentor


@pytest.mark.parametrize("name", BEFORE_ACCEPTANCE)
async def test_no_mail_before_acceptance_carries_the_other_sides_address(name: str) -> None:
    # The dispatcher reads the counterpart's address along with the name (see `due`): only
    # the accepted mail may use it.
    mails = await delivered(name)
    assert MENTOR_EMAIL not in mails["mentee"].as_string()
    assert MENTEE_EMAIL not in mails["mentor"].as_string()
    assert MENTEE_EMAIL in str(mails["mentee"]["To"])
    assert MENTOR_EMAIL in str(mails["mentor"]["To"])


@pytest.mark.parametrize("name", sorted(EVENTS))
async def test_the_two_sides_get_different_mails(name: str) -> None:
    mails = await delivered(name)
    assert mails["mentee"].get_content() != mails["mentor"].get_content()


# --- deliver: success ------------------------------------------------------------------------


async def test_successful_send_marks_sent_and_publishes_notification_sent() -> None:
    repo, intents = await queued_intents()
    intent = next(i for i in intents if i.recipient_role == "mentee")
    mailer, sink = FakeMailer(), RecordingSink()

    assert await deliver(repo, sink, mailer, due(intent), POLICY) is True

    [message] = mailer.messages
    assert message["Message-ID"] == intent.message_id
    assert message["From"] == POLICY.mail_from
    assert "ada@example.com" in message["To"]
    assert "Ada Engineer" in message["To"]
    assert "Grace PM" in message["Subject"]
    assert message["X-Mentorship-Notification"] == str(intent.id)
    assert "pricing" in message.get_content()

    assert repo.sent == [(intent.id, message["Subject"])]
    assert repo.failed == []
    [event] = sink.published
    assert isinstance(event, NotificationSent)
    assert event.message_id == message["Message-ID"]
    assert event.notification_id == intent.id
    assert event.source_event_id == intent.source_event_id
    assert event.recipient_id == MENTEE_ID
    assert event.recipient_role == "mentee"
    assert event.sent_at == SENT_AT


async def test_mentor_mail_contains_only_the_mentors_own_address() -> None:
    repo, intents = await queued_intents()
    intent = next(i for i in intents if i.recipient_role == "mentor")
    mailer = FakeMailer()

    await deliver(repo, RecordingSink(), mailer, due(intent), POLICY)

    text = mailer.messages[0].as_string()
    assert "grace@example.com" in text
    assert "ada@example.com" not in text


async def test_resend_of_the_same_intent_carries_the_same_message_id() -> None:
    repo, intents = await queued_intents()
    mailer = FakeMailer()
    await deliver(repo, RecordingSink(), mailer, due(intents[0]), POLICY)
    await deliver(repo, RecordingSink(), mailer, due(intents[0], attempts=1), POLICY)
    assert mailer.messages[0]["Message-ID"] == mailer.messages[1]["Message-ID"]


# --- deliver: failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        aiosmtplib.SMTPServerDisconnected("server went away"),
        aiosmtplib.SMTPResponseException(451, "try again later"),
        ConnectionRefusedError("connection refused"),
        OSError("network unreachable"),
        TimeoutError("timed out"),
    ],
)
async def test_failed_send_schedules_a_retry_and_publishes_nothing(error: Exception) -> None:
    repo, intents = await queued_intents()
    sink = RecordingSink()

    assert await deliver(repo, sink, FakeMailer(error), due(intents[0]), POLICY) is False

    assert sink.published == []
    assert repo.sent == []
    [(notification_id, recorded_error, retry_in)] = repo.failed
    assert notification_id == intents[0].id
    assert str(error) in recorded_error
    assert retry_in is not None
    assert retry_in > 0


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.5), (0.999, 1.499)])
async def test_a_resend_waits_a_jittered_doubling_of_the_base(rand: float, factor: float) -> None:
    repo, intents = await queued_intents()
    policy = dataclasses.replace(POLICY, jitter=lambda: rand)
    mailer = FakeMailer(aiosmtplib.SMTPServerDisconnected("gone"))
    assert await deliver(repo, RecordingSink(), mailer, due(intents[0], 1), policy) is False
    [(_, _, delay)] = repo.failed
    assert delay == pytest.approx(policy.retry_base_seconds * 2 * factor)


async def test_retries_wait_longer_each_time_then_give_up_with_notification_failed() -> None:
    repo, intents = await queued_intents()
    intent = intents[0]
    sink = RecordingSink()
    mailer = FakeMailer(aiosmtplib.SMTPServerDisconnected("gone"))

    for attempts_so_far in range(POLICY.max_attempts):
        assert await deliver(repo, sink, mailer, due(intent, attempts_so_far), POLICY) is False
        if attempts_so_far < POLICY.max_attempts - 1:
            assert sink.published == []

    delays = [retry for _, _, retry in repo.failed]
    final = delays[-1]
    retries = [d for d in delays[:-1] if d is not None]
    assert len(retries) == POLICY.max_attempts - 1
    assert retries == sorted(retries)
    assert len(set(retries)) == len(retries)  # strictly growing
    assert retries[0] == pytest.approx(POLICY.retry_base_seconds)
    assert final is None  # the last attempt marks the notification failed

    [event] = sink.published
    assert isinstance(event, NotificationFailed)
    assert event.notification_id == intent.id
    assert event.attempts == POLICY.max_attempts
    assert "gone" in event.error
    assert event.recipient_id == intent.recipient_id
    assert repo.sent == []


@settings(max_examples=50, deadline=None)
@given(max_attempts=st.integers(1, 8), base=st.floats(0.5, 120.0))
async def test_exactly_the_last_attempt_gives_up(max_attempts: int, base: float) -> None:
    policy = DeliveryPolicy("from@mentorship.test", "mentorship.test", max_attempts, base)
    repo, intents = await queued_intents()
    sink = RecordingSink()
    mailer = FakeMailer(OSError("down"))

    for attempts_so_far in range(max_attempts):
        await deliver(repo, sink, mailer, due(intents[0], attempts_so_far), policy)

    delays = [retry for _, _, retry in repo.failed]
    assert delays[-1] is None
    retries = [d for d in delays[:-1] if d is not None]
    assert len(retries) == max_attempts - 1
    assert all(later > earlier for earlier, later in itertools.pairwise(retries))
    assert [type(e) for e in sink.published] == [NotificationFailed]


async def test_unrenderable_intent_gives_up_at_once_without_sending() -> None:
    repo, intents = await queued_intents()
    broken = NotificationIntent(
        **{**intents[0].__dict__, "template": "weekly_digest"},
    )
    mailer, sink = FakeMailer(), RecordingSink()

    assert await deliver(repo, sink, mailer, due(broken), POLICY) is False

    assert mailer.messages == []
    assert repo.failed == [(broken.id, repo.failed[0][1], None)]
    assert "cannot build the mail" in repo.failed[0][1]
    [event] = sink.published
    assert isinstance(event, NotificationFailed)
    assert event.attempts == 1


async def test_name_with_a_line_break_does_not_break_delivery() -> None:
    repo, intents = await queued_intents()
    intent = next(i for i in intents if i.recipient_role == "mentee")
    mailer, sink = FakeMailer(), RecordingSink()
    hostile = DueNotification(
        intent=intent,
        attempts=0,
        recipient_name="Ada\nBcc: everyone@example.com",
        recipient_email="ada@example.com",
        counterpart_name="Grace PM",
    )

    try:
        await deliver(repo, sink, mailer, hostile, POLICY)
    except ValueError as error:
        raise AssertionError(f"deliver raised {error!r}") from error

    # Either sent with a sanitised header or given up on; never a header injection.
    assert len(repo.sent) + len(repo.failed) == 1
    for message in mailer.messages:
        assert "Bcc" not in message


async def test_a_permanent_smtp_refusal_gives_up_at_once() -> None:
    repo, intents = await queued_intents()
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "no such mailbox", "ada@example.com")]
    )
    mailer, sink = FakeMailer(error=refused), RecordingSink()

    assert await deliver(repo, sink, mailer, due(intents[0]), POLICY) is False

    assert repo.failed[0][2] is None  # no retry scheduled
    [event] = sink.published
    assert isinstance(event, NotificationFailed)


async def test_a_temporary_smtp_refusal_is_retried() -> None:
    repo, intents = await queued_intents()
    busy = aiosmtplib.SMTPResponseException(451, "try again later")
    mailer, sink = FakeMailer(error=busy), RecordingSink()

    assert await deliver(repo, sink, mailer, due(intents[0]), POLICY) is False

    assert repo.failed[0][2] is not None
    assert sink.published == []


# --- queue_mentorship_mails ------------------------------------------------------------------

DUE = datetime(2025, 3, 16, 9, 0, tzinfo=UTC)


def mentorship_ids() -> dict[str, uuid.UUID]:
    return {
        "mentorship_id": uuid.uuid4(),
        "match_id": uuid.uuid4(),
        "mentee_id": MENTEE_ID,
        "mentor_id": MENTOR_ID,
    }


MENTORSHIP_STEPS: dict[str, tuple[MentorshipEvent, str]] = {
    "started": (
        MentorshipStarted(
            **mentorship_ids(), started_at=SENT_AT, cadence_weeks=2, next_check_in_due=DUE
        ),
        MENTORSHIP_STARTED,
    ),
    "reminder": (
        CheckInReminderIssued(**mentorship_ids(), check_in_number=1, due_at=DUE),
        CHECK_IN_REMINDER,
    ),
    "missed": (
        CheckInMissed(**mentorship_ids(), check_in_number=2, due_at=DUE, lapses_at=DUE),
        CHECK_IN_MISSED,
    ),
    "first survey": (
        FeedbackRequested(**mentorship_ids(), round="first_check_in"),
        SURVEY_INVITATION,
    ),
    "ended": (
        MentorshipEnded(
            **mentorship_ids(),
            ending="lapsed",
            cause="no_check_in",
            ended_by=None,
            ended_at=SENT_AT,
            feedback_due_by=DUE,
        ),
        MENTORSHIP_ENDED,
    ),
}


@pytest.mark.parametrize("name", sorted(MENTORSHIP_STEPS))
async def test_every_mentorship_step_mails_both_sides_once_and_renders(name: str) -> None:
    event, template = MENTORSHIP_STEPS[name]
    envelope = EventEnvelope.wrap(event, producer="mentorship")
    repo = FakeNotificationRepository()
    assert await queue_mentorship_mails(repo, envelope, event, POLICY.message_id_domain) == 2
    # Delivered again (a consumer restart): the intents are keyed by event and recipient.
    assert await queue_mentorship_mails(repo, envelope, event, POLICY.message_id_domain) == 0
    intents = sorted(repo.intents.values(), key=lambda i: i.recipient_role)
    assert [(i.recipient_role, i.recipient_id, i.counterpart_id) for i in intents] == [
        ("mentee", MENTEE_ID, MENTOR_ID),
        ("mentor", MENTOR_ID, MENTEE_ID),
    ]
    assert {i.template for i in intents} == {template}
    assert len({i.message_id for i in intents}) == 2
    mailer = FakeMailer()
    for intent in intents:
        assert await deliver(repo, RecordingSink(), mailer, due(intent), POLICY) is True
    bodies = [m.get_content() for m in mailer.messages]
    assert all(f"Mentorship reference: {event.mentorship_id}" in body for body in bodies)
    assert "Grace PM" in bodies[0]
    assert "Ada Engineer" in bodies[1]


async def test_the_closing_survey_request_queues_no_mail_of_its_own() -> None:
    event = FeedbackRequested(**mentorship_ids(), round="closing", respond_by=DUE)
    envelope = EventEnvelope.wrap(event, producer="mentorship")
    repo = FakeNotificationRepository()
    assert await queue_mentorship_mails(repo, envelope, event, POLICY.message_id_domain) == 0
    assert repo.intents == {}


@pytest.mark.parametrize("leaving", ["mentee", "mentor"])
async def test_after_a_deletion_only_the_other_side_is_mailed_and_nobody_named(
    leaving: str,
) -> None:
    event = MentorshipEnded(
        **mentorship_ids(),
        ending="ended_early",
        cause="profile_deleted",
        ended_by=leaving,  # type: ignore[arg-type]
        ended_at=SENT_AT,
        feedback_due_by=DUE,
    )
    repo = FakeNotificationRepository()
    envelope = EventEnvelope.wrap(event, producer="mentorship")
    assert await queue_mentorship_mails(repo, envelope, event, POLICY.message_id_domain) == 1
    [intent] = repo.intents.values()
    assert intent.recipient_role != leaving
    assert intent.counterpart_id is None
    mailer = FakeMailer()
    assert await deliver(repo, RecordingSink(), mailer, due(intent), POLICY) is True
    body = mailer.messages[0].get_content()
    assert "left the programme" in body
    the_one_who_left = "Ada" if leaving == "mentee" else "Grace"
    assert the_one_who_left not in body

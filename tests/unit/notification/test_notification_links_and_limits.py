"""A mentor's booking link in the mentee's accepted mail, checked again when the mail is sent,
and the daily limit of mails per recipient; with fakes for the repository, the mail server,
the outbox and DNS (no test depends on the network)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from mentorship_shared.contracts.events import NotificationFailed, NotificationSent
from notification_service.repository import (
    DueNotification,
    NotificationIntent,
    NotificationRepository,
)
from notification_service.templates import (
    MATCH_ACCEPTED,
    MATCH_DECLINED,
    MATCH_EXPIRED,
    MATCH_PROPOSED,
    render,
)
from notification_service.use_cases import DeliveryPolicy, deliver

from tests.support.fakes import FakeMailer, RecordingSink

PUBLIC_LINK = "https://93.184.215.14/cal/grace"
MENTEE_ID = uuid.UUID(int=1)
MENTOR_ID = uuid.UUID(int=2)
OTHER_MENTEE_ID = uuid.UUID(int=3)
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START


class FakeRepository(NotificationRepository):
    """What `deliver` calls, over lists, with a clock for the 24-hour window."""

    def __init__(self, clock: Clock | None = None) -> None:  # no connection behind it
        self.clock = clock or Clock()
        self.sent: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
        self.failed: list[tuple[uuid.UUID, str, float | None]] = []
        self.deferred: list[tuple[uuid.UUID, datetime, str]] = []
        self.limit_asked = 0

    def record_send(self, recipient_id: uuid.UUID, notification_id: uuid.UUID) -> None:
        self.sent.setdefault(recipient_id, []).append((notification_id, self.clock.now))

    async def mark_sent(self, subjects: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, datetime]:
        return dict.fromkeys(subjects, self.clock.now)

    async def mark_attempt_failed(
        self, notification_id: uuid.UUID, error: str, *, retry_in_seconds: float | None
    ) -> None:
        self.failed.append((notification_id, error, retry_in_seconds))

    async def daily_limit_frees_at(self, recipient_id: uuid.UUID, limit: int) -> datetime | None:
        self.limit_asked += 1
        day_ago = self.clock.now - timedelta(hours=24)
        recent = sorted(
            (at for _, at in self.sent.get(recipient_id, []) if at > day_ago), reverse=True
        )
        return recent[limit - 1] + timedelta(hours=24) if len(recent) >= limit else None

    async def defer(self, notification_id: uuid.UUID, until: datetime, reason: str) -> None:
        self.deferred.append((notification_id, until, reason))


class FakeDns:
    """Answers every name with fixed addresses and records the names asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    async def __call__(self, host: str) -> Iterable[str]:
        self.asked.append(host)
        return self.addresses


def policy(*, limit: int = 0, dns: FakeDns | None = None) -> DeliveryPolicy:
    return DeliveryPolicy(
        mail_from="Mentorship Matching <noreply@mentorship.test>",
        message_id_domain="mentorship.test",
        max_attempts=3,
        retry_base_seconds=30.0,
        daily_limit_per_recipient=limit,
        link_resolver=dns or FakeDns("93.184.215.14"),
    )


def due(
    template: str = MATCH_ACCEPTED,
    role: str = "mentee",
    *,
    booking_url: str | None = PUBLIC_LINK,
    recipient_id: uuid.UUID | None = None,
) -> DueNotification:
    """A due mail between Ada (mentee) and Grace (mentor, with a booking link)."""
    mentee = role == "mentee"
    notification_id = uuid.uuid4()
    context: dict[str, object] = {"match_id": str(uuid.uuid4())}
    if template == MATCH_PROPOSED:
        context |= {
            "score": 0.8,
            "explanation": "Covers your gap in pricing.",
            "covered_skills": ["pricing_monetisation"],
            "uncovered_skills": [],
        }
    elif template == MATCH_DECLINED:
        context |= {"declined_by": "mentor"}
    elif template == MATCH_EXPIRED:
        context |= {"reason": "timeout"}
    intent = NotificationIntent(
        id=notification_id,
        source_event_id=uuid.uuid4(),
        source_event_type="MatchAccepted",
        recipient_id=recipient_id or (MENTEE_ID if mentee else MENTOR_ID),
        recipient_role=role,
        counterpart_id=MENTOR_ID if mentee else MENTEE_ID,
        template=template,
        context=context,
        message_id=f"<{notification_id}@mentorship.test>",
    )
    return DueNotification(
        intent=intent,
        attempts=0,
        recipient_name="Ada" if mentee else "Grace",
        recipient_email="ada@example.com" if mentee else "grace@example.com",
        counterpart_name="Grace" if mentee else "Ada",
        counterpart_email="grace@example.com" if mentee else "ada@example.com",
        # The repository reads the counterpart's link; only a mentor has one.
        counterpart_booking_url=booking_url if mentee else None,
    )


async def send(
    item: DueNotification, delivery: DeliveryPolicy, repo: FakeRepository | None = None
) -> tuple[bool, str, RecordingSink]:
    repo = repo or FakeRepository()
    mailer, sink = FakeMailer(), RecordingSink()
    went = await deliver(repo, sink, mailer, item, delivery)
    if went:
        repo.record_send(item.intent.recipient_id, item.intent.id)
    body = mailer.messages[0].get_content() if mailer.messages else ""
    return went, body, sink


# --- templates -------------------------------------------------------------------------------


def accepted(role: str, booking_url: str | None) -> str:
    mail = render(
        MATCH_ACCEPTED,
        recipient_role=role,
        recipient_name="Ada" if role == "mentee" else "Grace",
        counterpart_name="Grace" if role == "mentee" else "Ada",
        context={"match_id": "m-1"},
        counterpart_email="someone@example.com",
        counterpart_booking_url=booking_url,
    )
    return mail.body


def test_the_mentees_accepted_mail_offers_the_mentors_booking_link() -> None:
    assert f"Book a first call: {PUBLIC_LINK}\n" in accepted("mentee", PUBLIC_LINK)


def test_without_a_link_the_accepted_mail_offers_none() -> None:
    assert "Book a first call" not in accepted("mentee", None)
    assert "Book a first call" not in accepted("mentee", "")


def test_the_mentors_accepted_mail_never_shows_a_link() -> None:
    assert PUBLIC_LINK not in accepted("mentor", PUBLIC_LINK)


# --- the link at send time -------------------------------------------------------------------


async def test_a_public_link_reaches_the_mentee_once_both_accepted() -> None:
    went, body, sink = await send(due(), policy())
    assert went is True
    assert f"Book a first call: {PUBLIC_LINK}" in body
    assert [type(e) for e in sink.published] == [NotificationSent]


@pytest.mark.parametrize("template", [MATCH_PROPOSED, MATCH_DECLINED, MATCH_EXPIRED])
async def test_no_mail_before_acceptance_carries_the_link(template: str) -> None:
    dns = FakeDns("93.184.215.14")
    went, body, _ = await send(due(template), policy(dns=dns))
    assert went is True
    assert "93.184.215.14" not in body
    assert "Book a first call" not in body


async def test_the_mentor_gets_no_link_and_no_lookup() -> None:
    dns = FakeDns("93.184.215.14")
    item = replace(due(role="mentor"), counterpart_booking_url=PUBLIC_LINK)
    went, body, _ = await send(item, policy(dns=dns))
    assert went is True
    assert PUBLIC_LINK not in body
    assert dns.asked == []


async def test_a_name_is_resolved_again_when_the_mail_is_sent() -> None:
    dns = FakeDns("93.184.215.14")
    went, body, _ = await send(due(booking_url="https://Cal.Example.com./grace"), policy(dns=dns))
    assert went is True
    assert dns.asked == ["cal.example.com"]
    assert "Book a first call: https://cal.example.com/grace" in body


@pytest.mark.parametrize(
    ("booking_url", "answers", "host"),
    [
        # The name resolves elsewhere than when it was registered (DNS rebinding).
        ("https://cal.example.com/grace?who=ada", ("10.0.0.1",), "cal.example.com"),
        (
            "https://cal.example.com/grace?who=ada",
            ("93.184.215.14", "169.254.169.254"),
            "cal.example.com",
        ),
        ("https://cal.example.com/grace?who=ada", (), "cal.example.com"),  # no longer resolves
        ("https://127.0.0.1/grace?who=ada", (), "127.0.0.1"),
        ("http://93.184.215.14/grace?who=ada", (), "93.184.215.14"),
    ],
)
async def test_a_link_refused_at_send_time_is_left_out_and_the_mail_still_goes(
    booking_url: str, answers: tuple[str, ...], host: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="notification_service.use_cases")

    went, body, sink = await send(due(booking_url=booking_url), policy(dns=FakeDns(*answers)))

    assert went is True
    assert "Book a first call" not in body
    assert "grace?who" not in body
    assert "You can reach Grace at grace@example.com." in body
    assert [type(e) for e in sink.published] == [NotificationSent]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    logged = warning.getMessage()
    assert f"booking link on host {host} left out" in logged
    # The host only: the rest of a link can name a person.
    assert "who=ada" not in logged
    assert "/grace" not in logged


# --- the daily limit -------------------------------------------------------------------------


async def test_the_third_mail_to_one_recipient_within_a_day_waits_others_mails_flow() -> None:
    clock = Clock()
    repo = FakeRepository(clock)
    delivery = policy(limit=2)

    first, _, _ = await send(due(MATCH_PROPOSED), delivery, repo)
    clock.now += timedelta(hours=1)
    second, _, _ = await send(due(MATCH_DECLINED), delivery, repo)
    clock.now += timedelta(hours=1)
    third_item = due(MATCH_EXPIRED)
    third, third_body, sink = await send(third_item, delivery, repo)
    mentor_went, _, _ = await send(due(MATCH_PROPOSED, "mentor"), delivery, repo)
    other_went, _, _ = await send(due(MATCH_PROPOSED, recipient_id=OTHER_MENTEE_ID), delivery, repo)

    assert (first, second, third) == (True, True, False)
    assert third_body == ""
    assert sink.published == []  # neither NotificationSent nor NotificationFailed
    assert repo.failed == []
    [(deferred_id, until, reason)] = repo.deferred
    assert deferred_id == third_item.intent.id
    assert until == START + timedelta(hours=24)  # when the first of the two is a day old
    assert "daily limit of 2" in reason
    assert (mentor_went, other_went) == (True, True)


async def test_a_waiting_mail_goes_once_the_window_frees_up() -> None:
    clock = Clock()
    repo = FakeRepository(clock)
    delivery = policy(limit=2)
    for _ in range(2):
        assert (await send(due(MATCH_PROPOSED), delivery, repo))[0] is True
        clock.now += timedelta(hours=3)
    waiting = due(MATCH_EXPIRED)
    assert (await send(waiting, delivery, repo))[0] is False
    [(_, until, _)] = repo.deferred

    clock.now = until
    went, body, sink = await send(waiting, delivery, repo)
    assert went is True
    assert "lapsed" in body
    assert [type(e) for e in sink.published] == [NotificationSent]
    # ...and the next one waits for the second mail to turn a day old.
    assert (await send(due(MATCH_DECLINED), delivery, repo))[0] is False
    assert repo.deferred[-1][1] == START + timedelta(hours=3 + 24)


async def test_a_limit_of_zero_sends_everything_without_counting() -> None:
    repo = FakeRepository()
    delivery = policy(limit=0)
    for _ in range(30):
        assert (await send(due(MATCH_PROPOSED), delivery, repo))[0] is True
    assert repo.limit_asked == 0
    assert repo.deferred == []


async def test_a_deferral_is_not_a_failure() -> None:
    repo = FakeRepository()
    delivery = policy(limit=1)
    assert (await send(due(MATCH_PROPOSED), delivery, repo))[0] is True
    went, _, sink = await send(due(MATCH_DECLINED), delivery, repo)
    assert went is False
    assert not any(isinstance(e, NotificationFailed) for e in sink.published)
    assert repo.failed == []

"""What the notification service does: remember contacts, queue mail intents, deliver them.

Delivery order matters: the intent is committed first (one per event, recipient and channel),
the mail is sent, and the intent is marked sent together with the NotificationSent event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, assert_never

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    CheckInMissed,
    CheckInReminderIssued,
    FeedbackRequested,
    LearningPlanIssued,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchParty,
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    MentorshipEnded,
    MentorshipStarted,
    NotificationFailed,
    NotificationSent,
    SignInLinkRequested,
)
from mentorship_shared.plumbing.logs import mask_email
from mentorship_shared.plumbing.outbox import EventSink
from mentorship_shared.plumbing.retry import backoff_delay
from mentorship_shared.plumbing.tracing import start_span_continuing
from mentorship_shared.plumbing.urls import (
    AsyncResolver,
    UrlRefused,
    check_public_url_async,
    url_host,
)
from opentelemetry.trace import Span, use_span

from . import metrics
from .mailer import SEND_ERRORS, Mailer, is_permanent
from .message import MailComposer, OutgoingMail
from .repository import DueNotification, NotificationIntent, NotificationRepository
from .templates import (
    CHECK_IN_MISSED,
    CHECK_IN_REMINDER,
    LEARNING_PLAN,
    MATCH_ACCEPTED,
    MATCH_DECLINED,
    MATCH_EXPIRED,
    MATCH_PROPOSED,
    MENTORSHIP_ENDED,
    MENTORSHIP_STARTED,
    SIGN_IN_LINK,
    SIGN_IN_LINK_KEY,
    SURVEY_INVITATION,
    render,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    mail_from: str
    message_id_domain: str
    max_attempts: int
    retry_base_seconds: float
    #: Most mails one recipient is sent in any 24 hours; 0 means no limit.
    daily_limit_per_recipient: int = 0
    #: How booking links are resolved before they go into a mail (None: the system's DNS).
    link_resolver: AsyncResolver | None = None
    #: Longest wait before a resend, whatever the attempt count.
    retry_cap_seconds: float = 3600.0
    #: Random numbers in [0, 1) for the retry jitter (tests pin it).
    jitter: Callable[[], float] = random.random
    #: Writes the mails, From: `mail_from`.
    composer: MailComposer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "composer", MailComposer(self.mail_from))


async def record_contact(
    repo: NotificationRepository, profile: MenteeProfile | MentorProfile
) -> None:
    await repo.upsert_contact(profile)


async def forget_contact(repo: NotificationRepository, profile_id: uuid.UUID) -> None:
    await repo.erase_contact(profile_id)


MatchEvent = MatchProposed | MatchAccepted | MatchDeclined | MatchExpired


async def queue_match_mails(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    event: MatchEvent,
    message_id_domain: str,
) -> int:
    """One mail intent for the mentee and one for the mentor; returns how many were new."""
    template, contexts = _mail_contexts(event)
    # A deleted profile ended the match, and the event does not say whose. Neither mail names
    # the other person, and each waits until the other side's deletion has arrived here: the
    # survivor's mail then goes out, while the mail to the one who left is cancelled by their
    # own deletion and never sent.
    someone_left = isinstance(event, MatchExpired) and event.reason == "profile_deleted"
    return await _queue(
        repo,
        envelope,
        template,
        message_id_domain,
        [
            _Mail(
                role=role,
                recipient=recipient,
                counterpart=None if someone_left else counterpart,
                context=contexts[role],
                awaits_erasure_of=counterpart if someone_left else None,
            )
            for role, recipient, counterpart in _both_sides(event.mentee_id, event.mentor_id)
        ],
    )


MentorshipEvent = (
    MentorshipStarted | CheckInReminderIssued | CheckInMissed | FeedbackRequested | MentorshipEnded
)


async def queue_mentorship_mails(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    event: MentorshipEvent,
    message_id_domain: str,
) -> int:
    """A mail intent for each side the event concerns; returns how many were new.

    The closing survey is asked for in the mail about the end, so its FeedbackRequested queues
    nothing. When a deleted profile ended the mentorship, the event says whose: only the other
    side is mailed, and the mail names nobody."""
    base: dict[str, Any] = {"mentorship_id": str(event.mentorship_id)}
    match event:
        case MentorshipStarted():
            template = MENTORSHIP_STARTED
            context = base | {
                "cadence_weeks": event.cadence_weeks,
                "next_check_in_due": event.next_check_in_due.isoformat(),
            }
        case CheckInReminderIssued():
            template = CHECK_IN_REMINDER
            context = base | {
                "check_in_number": event.check_in_number,
                "due_at": event.due_at.isoformat(),
            }
        case CheckInMissed():
            template = CHECK_IN_MISSED
            context = base | {
                "check_in_number": event.check_in_number,
                "due_at": event.due_at.isoformat(),
                "lapses_at": event.lapses_at.isoformat(),
            }
        case FeedbackRequested():
            if event.round != "first_check_in":
                return 0
            template = SURVEY_INVITATION
            context = base | {"round": event.round}
        case MentorshipEnded():
            template = MENTORSHIP_ENDED
            context = base | {
                "ending": event.ending,
                "cause": event.cause,
                "ended_by": event.ended_by,
                "feedback_due_by": event.feedback_due_by.isoformat(),
            }
        case _:
            assert_never(event)
    left = (
        event.ended_by
        if isinstance(event, MentorshipEnded) and event.cause == "profile_deleted"
        else None
    )
    return await _queue(
        repo,
        envelope,
        template,
        message_id_domain,
        [
            _Mail(
                role=role,
                recipient=recipient,
                counterpart=None if left else counterpart,
                context=context,
            )
            for role, recipient, counterpart in _both_sides(event.mentee_id, event.mentor_id)
            if role != left
        ],
    )


async def queue_learning_plan_mail(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    event: LearningPlanIssued,
    message_id_domain: str,
) -> int:
    """One mail intent for the mentee the plan is for (it names nobody else); returns 1 if it
    was new."""
    context = {
        "mentee_id": str(event.mentee_id),
        "plan_version": event.plan_version,
        "resources_version": event.resources_version,
        "gaps": [gap.model_dump(mode="json") for gap in event.gaps],
    }
    mail = _Mail(role="mentee", recipient=event.mentee_id, counterpart=None, context=context)
    return await _queue(repo, envelope, LEARNING_PLAN, message_id_domain, [mail])


@dataclass(frozen=True)
class _Mail:
    """One mail an event asks for: to whom, naming whom, saying what."""

    role: MatchParty
    recipient: uuid.UUID
    counterpart: uuid.UUID | None
    context: dict[str, Any]
    awaits_erasure_of: uuid.UUID | None = None


def _both_sides(
    mentee_id: uuid.UUID, mentor_id: uuid.UUID
) -> list[tuple[MatchParty, uuid.UUID, uuid.UUID]]:
    """(side, recipient, the other person) for the mentee and for the mentor."""
    return [("mentee", mentee_id, mentor_id), ("mentor", mentor_id, mentee_id)]


async def _queue(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    template: str,
    message_id_domain: str,
    mails: list[_Mail],
) -> int:
    """One intent per mail, keyed by (event, recipient, channel); returns how many were new."""
    intents = []
    for mail in mails:
        notification_id = uuid.uuid4()
        intents.append(
            NotificationIntent(
                id=notification_id,
                source_event_id=envelope.event_id,
                source_event_type=envelope.event_type,
                recipient_id=mail.recipient,
                recipient_role=mail.role,
                counterpart_id=mail.counterpart,
                template=template,
                context=mail.context,
                # Fixed when the intent is queued, so a resend after a crash between the send and
                # the mark carries the same Message-ID and reads as a duplicate.
                message_id=f"<{notification_id}@{message_id_domain}>",
                awaits_erasure_of=mail.awaits_erasure_of,
            )
        )
    return await repo.add_intents(intents)


async def queue_sign_in_mail(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    event: SignInLinkRequested,
    message_id_domain: str,
    web_base_url: str,
) -> bool:
    """One mail with the sign-in link to the profile's own address; False if queued before."""
    link = f"{web_base_url.rstrip('/')}/sign-in/link?token={event.link_token}"
    mail = _Mail(
        role=event.kind,
        recipient=event.profile_id,
        counterpart=None,
        context={SIGN_IN_LINK_KEY: link, "expires_at": event.expires_at.isoformat()},
    )
    return await _queue(repo, envelope, SIGN_IN_LINK, message_id_domain, [mail]) == 1


def _link_expired(intent: NotificationIntent, now: datetime) -> bool:
    """A sign-in mail whose link would arrive dead (held back by an outage or the daily limit)."""
    if intent.template != SIGN_IN_LINK:
        return False
    return datetime.fromisoformat(str(intent.context["expires_at"])) <= now


def _mail_contexts(event: MatchEvent) -> tuple[str, dict[str, dict[str, Any]]]:
    """The template of the event's mails and the context of each side's mail.

    Contexts are stored with the intent, so they hold only what the mail may show its reader:
    no addresses (the accepted mail reads those when it is sent) and no mentee's reason for
    declining, which is for the matcher alone.
    """
    base: dict[str, Any] = {"match_id": str(event.match_id)}
    match event:
        case MatchProposed():
            proposed = base | {
                "origin": event.origin,
                "accepted_by": list(event.accepted_by),
                "score": event.score,
                "explanation": event.explanation,
                "covered_skills": event.covered_skills,
                "uncovered_skills": event.uncovered_skills,
                "expires_at": event.expires_at.isoformat() if event.expires_at else None,
                "learning_resources": [
                    gap.model_dump(mode="json") for gap in event.learning_resources
                ],
            }
            return MATCH_PROPOSED, {"mentee": proposed, "mentor": proposed}
        case MatchAccepted():
            return MATCH_ACCEPTED, {"mentee": base, "mentor": base}
        case MatchDeclined():
            declined = base | {"declined_by": event.declined_by}
            to_mentee = declined
            if event.declined_by == "mentor" and event.reason:
                to_mentee = declined | {"mentor_reason": event.reason}
            return MATCH_DECLINED, {"mentee": to_mentee, "mentor": declined}
        case MatchExpired():
            expired = base | {"reason": event.reason}
            return MATCH_EXPIRED, {"mentee": expired, "mentor": expired}
        case _:
            assert_never(event)


async def deliver_batch(
    repo: NotificationRepository,
    events: EventSink,
    mailer: Mailer,
    batch: list[DueNotification],
    policy: DeliveryPolicy,
    *,
    concurrency: int = 1,
) -> int:
    """Send a batch of locked notifications, up to `concurrency` at once, and record every
    outcome in the caller's transaction; returns how many went out. Each mail continues the
    trace it was queued in.

    With the daily limit on, the mails go one after the other: each one's check counts the
    mails sent before it, those of the same batch included."""
    if policy.daily_limit_per_recipient <= 0:
        return await _deliver_together(repo, events, mailer, batch, policy, concurrency)
    await repo.lock_recipients([due.intent.recipient_id for due in batch])
    sent = 0
    for due in batch:
        sent += await _deliver_together(repo, events, mailer, [due], policy, 1)
    return sent


async def deliver(
    repo: NotificationRepository,
    events: EventSink,
    mailer: Mailer,
    due: DueNotification,
    policy: DeliveryPolicy,
) -> bool:
    """Send one due notification and record the outcome; True if the mail went out.

    A recipient who was already sent `daily_limit_per_recipient` mails in the last 24 hours
    gets nothing now: the notification stays pending and is tried again when the oldest of
    those mails is a day old. Nothing is lost, no attempt is counted, nothing is published.
    """
    return await _deliver_together(repo, events, mailer, [due], policy, 1) == 1


@dataclass(frozen=True)
class _Ready:
    """A mail written and ready to go, with the subject its record keeps."""

    message: OutgoingMail
    subject: str


async def _deliver_together(
    repo: NotificationRepository,
    events: EventSink,
    mailer: Mailer,
    batch: list[DueNotification],
    policy: DeliveryPolicy,
    concurrency: int,
) -> int:
    """Write every mail of the batch (the database checks one after the other), send them
    `concurrency` at a time, then record each outcome: the connection serves one statement at
    a time, the SMTP connections one mail each."""
    spans = [
        start_span_continuing(
            "deliver notification",
            due.traceparent,
            attributes={"notification.id": str(due.intent.id)},
        )
        for due in batch
    ]
    try:
        ready: list[_Ready | None] = []
        for due, span in zip(batch, spans, strict=True):
            with use_span(span):
                ready.append(await _prepare(repo, events, due, policy))
        lanes = asyncio.Semaphore(concurrency)

        async def send(span: Span, mail: _Ready) -> BaseException | None:
            async with lanes:
                with use_span(span):
                    try:
                        await mailer.send(mail.message)
                    except SEND_ERRORS as error:
                        return error
                    return None

        async with asyncio.TaskGroup() as group:
            sending = [
                group.create_task(send(span, mail)) if mail is not None else None
                for span, mail in zip(spans, ready, strict=True)
            ]
        went: list[tuple[DueNotification, Span, _Ready]] = []
        for due, span, mail, task in zip(batch, spans, ready, sending, strict=True):
            if mail is None or task is None:
                continue
            error = task.result()
            if error is None:
                went.append((due, span, mail))
                continue
            with use_span(span):
                await _record_failure(repo, events, due, error, policy)
        if went:
            sent_at = await repo.mark_sent({due.intent.id: mail.subject for due, _, mail in went})
            for due, span, _ in went:
                with use_span(span):
                    await _record_sent(events, due, sent_at[due.intent.id])
        return len(went)
    finally:
        for span in spans:
            span.end()


async def _prepare(
    repo: NotificationRepository, events: EventSink, due: DueNotification, policy: DeliveryPolicy
) -> _Ready | None:
    """The mail to send, or None when it does not go now: held by the daily limit (deferred),
    or reported failed because it can never be built or its sign-in link expired."""
    intent = due.intent
    if policy.daily_limit_per_recipient > 0:
        frees_at = await repo.daily_limit_frees_at(
            intent.recipient_id, policy.daily_limit_per_recipient
        )
        if frees_at is not None:
            await repo.defer(
                intent.id,
                frees_at,
                f"waiting: daily limit of {policy.daily_limit_per_recipient} mails to this "
                "recipient reached",
            )
            log.info(
                "mail to %s waits until %s: daily limit of %d reached",
                mask_email(due.recipient_email),
                frees_at.isoformat(),
                policy.daily_limit_per_recipient,
                extra={"notification_id": str(intent.id)},
            )
            return None
    if _link_expired(intent, datetime.now(UTC)):
        await _give_up(repo, events, due, "the sign-in link expired before the mail could go out")
        return None
    booking_url = await _booking_link(due, policy)
    try:
        mail = render(
            intent.template,
            recipient_role=intent.recipient_role,
            recipient_name=due.recipient_name,
            counterpart_name=due.counterpart_name,
            context=intent.context,
            counterpart_email=due.counterpart_email,
            counterpart_booking_url=booking_url,
        )
        message = policy.composer.compose(
            to_name=due.recipient_name,
            to_address=due.recipient_email,
            subject=mail.subject,
            message_id=intent.message_id,
            notification_id=str(intent.id),
            body=mail.body,
        )
    except (KeyError, TypeError, ValueError) as error:
        # This mail can never be built: retrying cannot help, so it is reported failed now.
        await _give_up(repo, events, due, f"cannot build the mail: {error!r}")
        return None
    return _Ready(message, mail.subject)


async def _record_failure(
    repo: NotificationRepository,
    events: EventSink,
    due: DueNotification,
    error: BaseException,
    policy: DeliveryPolicy,
) -> None:
    """Count the failed attempt: retried later, or given up (with NotificationFailed)."""
    intent = due.intent
    attempts = due.attempts + 1
    if attempts >= policy.max_attempts or is_permanent(error):
        await _give_up(repo, events, due, repr(error))
        return
    # Doubling per attempt, jittered like every retry of the system: mails that failed together
    # (a mail server outage) do not all come back in the same second.
    delay = backoff_delay(
        attempts,
        base=policy.retry_base_seconds,
        cap=policy.retry_cap_seconds,
        rand=policy.jitter,
    )
    await repo.mark_attempt_failed(intent.id, repr(error), retry_in_seconds=delay)
    metrics.EMAILS_FAILED.labels(intent.template, "retrying").inc()
    log.warning(
        "mail to %s failed (attempt %d of %d), retrying in %.0f s: %r",
        mask_email(due.recipient_email),
        attempts,
        policy.max_attempts,
        delay,
        error,
    )


async def _record_sent(events: EventSink, due: DueNotification, sent_at: datetime) -> None:
    """What a mail that went out (and was marked sent) leaves: NotificationSent, a count and a
    log line."""
    intent = due.intent
    metrics.EMAILS_SENT.labels(intent.template).inc()
    await events.publish(
        NotificationSent(
            **_about(intent),
            message_id=intent.message_id,
            sent_at=sent_at,
        )
    )
    log.info(
        "mail sent to %s",
        mask_email(due.recipient_email),
        extra={"notification_id": str(intent.id)},
    )


async def _booking_link(due: DueNotification, policy: DeliveryPolicy) -> str | None:
    """The mentor's booking link for the mentee's accepted mail, checked again now: the name
    may resolve elsewhere than when it was registered. A refused link is left out (the mail
    still goes) and logged by its host only."""
    intent = due.intent
    url = due.counterpart_booking_url
    if not url or intent.template != MATCH_ACCEPTED or intent.recipient_role != "mentee":
        return None
    try:
        return await check_public_url_async(url, resolver=policy.link_resolver)
    except UrlRefused as refused:
        log.warning(
            "booking link on host %s left out of mail %s: %s",
            url_host(url),
            intent.id,
            refused,
            extra={"notification_id": str(intent.id)},
        )
        return None


def _about(intent: NotificationIntent) -> dict[str, Any]:
    """The fields NotificationSent and NotificationFailed share: which mail this is."""
    return {
        "notification_id": intent.id,
        "source_event_id": intent.source_event_id,
        "source_event_type": intent.source_event_type,
        "recipient_id": intent.recipient_id,
        "recipient_role": intent.recipient_role,
        "channel": "email",
    }


async def _give_up(
    repo: NotificationRepository, events: EventSink, due: DueNotification, error: str
) -> None:
    intent = due.intent
    await repo.mark_attempt_failed(intent.id, error, retry_in_seconds=None)
    metrics.EMAILS_FAILED.labels(intent.template, "given_up").inc()
    await events.publish(
        NotificationFailed(
            **_about(intent),
            error=error,
            attempts=due.attempts + 1,
        )
    )
    log.error("gave up on mail %s: %s", intent.id, error)

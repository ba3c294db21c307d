"""Kafka entry points of the notification service: one event, one use-case call."""

from __future__ import annotations

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    CheckInMissed,
    CheckInReminderIssued,
    FeedbackRequested,
    LearningPlanIssued,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MenteeRegistered,
    MentorRegistered,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpdated,
    SignInLinkRequested,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, MENTORSHIP_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.unit_of_work import Transaction

from . import use_cases
from .config import NotificationSettings
from .repository import NotificationRepository

Tx = Transaction[NotificationRepository]


def profile_events_consumer(settings: NotificationSettings) -> EventConsumer:
    consumer = EventConsumer(
        "profile-events",
        PROFILE_EVENTS,
        description=(
            "Keeps the name and address of everyone who can be notified, and mails the sign-in "
            "links people ask for."
        ),
    )

    @consumer.on(MenteeRegistered)
    async def on_mentee_registered(tx: Tx, _: EventEnvelope, event: MenteeRegistered) -> None:
        await use_cases.record_contact(tx.repo, event.profile)

    @consumer.on(MentorRegistered)
    async def on_mentor_registered(tx: Tx, _: EventEnvelope, event: MentorRegistered) -> None:
        await use_cases.record_contact(tx.repo, event.profile)

    @consumer.on(ProfileUpdated)
    async def on_profile_updated(tx: Tx, _: EventEnvelope, event: ProfileUpdated) -> None:
        await use_cases.record_contact(tx.repo, event.profile)

    @consumer.on(ProfileDeleted)
    async def on_profile_deleted(tx: Tx, _: EventEnvelope, event: ProfileDeleted) -> None:
        await use_cases.forget_contact(tx.repo, event.profile_id)

    @consumer.on(SignInLinkRequested)
    async def on_sign_in_link_requested(
        tx: Tx, envelope: EventEnvelope, event: SignInLinkRequested
    ) -> None:
        await use_cases.queue_sign_in_mail(
            tx.repo, envelope, event, settings.message_id_domain, settings.web_base_url
        )

    return consumer


def match_events_consumer(settings: NotificationSettings) -> EventConsumer:
    consumer = EventConsumer(
        "match-events",
        MATCH_EVENTS,
        description=(
            "Queues a mail to both people of a match at every step: proposed, accepted, "
            "declined or expired; and the learning plan to a mentee no mentor suits yet."
        ),
    )

    @consumer.on(MatchProposed)
    async def on_match_proposed(tx: Tx, envelope: EventEnvelope, event: MatchProposed) -> None:
        await use_cases.queue_match_mails(tx.repo, envelope, event, settings.message_id_domain)

    @consumer.on(MatchAccepted)
    async def on_match_accepted(tx: Tx, envelope: EventEnvelope, event: MatchAccepted) -> None:
        await use_cases.queue_match_mails(tx.repo, envelope, event, settings.message_id_domain)

    @consumer.on(MatchDeclined)
    async def on_match_declined(tx: Tx, envelope: EventEnvelope, event: MatchDeclined) -> None:
        await use_cases.queue_match_mails(tx.repo, envelope, event, settings.message_id_domain)

    @consumer.on(MatchExpired)
    async def on_match_expired(tx: Tx, envelope: EventEnvelope, event: MatchExpired) -> None:
        await use_cases.queue_match_mails(tx.repo, envelope, event, settings.message_id_domain)

    @consumer.on(LearningPlanIssued)
    async def on_learning_plan_issued(
        tx: Tx, envelope: EventEnvelope, event: LearningPlanIssued
    ) -> None:
        await use_cases.queue_learning_plan_mail(
            tx.repo, envelope, event, settings.message_id_domain
        )

    return consumer


def mentorship_events_consumer(settings: NotificationSettings) -> EventConsumer:
    consumer = EventConsumer(
        "mentorship-events",
        MENTORSHIP_EVENTS,
        description=(
            "Queues a mail to both people of a mentorship when it starts, before each check-in, "
            "when a check-in is missed, for the first survey, and when it ends (with the "
            "closing survey)."
        ),
    )

    async def queue(tx: Tx, envelope: EventEnvelope, event: use_cases.MentorshipEvent) -> None:
        await use_cases.queue_mentorship_mails(tx.repo, envelope, event, settings.message_id_domain)

    consumer.on(MentorshipStarted)(queue)
    consumer.on(CheckInReminderIssued)(queue)
    consumer.on(CheckInMissed)(queue)
    consumer.on(FeedbackRequested)(queue)
    consumer.on(MentorshipEnded)(queue)
    return consumer

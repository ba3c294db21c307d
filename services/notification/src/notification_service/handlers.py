"""Kafka entry points of the notification service: one event, one use-case call."""

from __future__ import annotations

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MenteeRegistered,
    MentorRegistered,
    ProfileDeleted,
    ProfileUpdated,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.database import Connection

from . import use_cases
from .config import NotificationSettings
from .repository import NotificationRepository


def profile_events_consumer() -> EventConsumer:
    consumer = EventConsumer(
        "profile-events",
        PROFILE_EVENTS,
        description="Keeps the name and address of everyone who can be notified.",
    )

    @consumer.on(MenteeRegistered)
    async def on_mentee_registered(
        conn: Connection, _: EventEnvelope, event: MenteeRegistered
    ) -> None:
        await use_cases.record_contact(NotificationRepository(conn), event.profile)

    @consumer.on(MentorRegistered)
    async def on_mentor_registered(
        conn: Connection, _: EventEnvelope, event: MentorRegistered
    ) -> None:
        await use_cases.record_contact(NotificationRepository(conn), event.profile)

    @consumer.on(ProfileUpdated)
    async def on_profile_updated(conn: Connection, _: EventEnvelope, event: ProfileUpdated) -> None:
        await use_cases.record_contact(NotificationRepository(conn), event.profile)

    @consumer.on(ProfileDeleted)
    async def on_profile_deleted(conn: Connection, _: EventEnvelope, event: ProfileDeleted) -> None:
        await use_cases.forget_contact(NotificationRepository(conn), event.profile_id)

    return consumer


def match_events_consumer(settings: NotificationSettings) -> EventConsumer:
    consumer = EventConsumer(
        "match-events",
        MATCH_EVENTS,
        description=(
            "Queues a mail to both people of a match at every step: proposed, accepted, "
            "declined or expired."
        ),
    )

    @consumer.on(MatchProposed)
    async def on_match_proposed(
        conn: Connection, envelope: EventEnvelope, event: MatchProposed
    ) -> None:
        await use_cases.queue_match_mails(
            NotificationRepository(conn), envelope, event, settings.message_id_domain
        )

    @consumer.on(MatchAccepted)
    async def on_match_accepted(
        conn: Connection, envelope: EventEnvelope, event: MatchAccepted
    ) -> None:
        await use_cases.queue_match_mails(
            NotificationRepository(conn), envelope, event, settings.message_id_domain
        )

    @consumer.on(MatchDeclined)
    async def on_match_declined(
        conn: Connection, envelope: EventEnvelope, event: MatchDeclined
    ) -> None:
        await use_cases.queue_match_mails(
            NotificationRepository(conn), envelope, event, settings.message_id_domain
        )

    @consumer.on(MatchExpired)
    async def on_match_expired(
        conn: Connection, envelope: EventEnvelope, event: MatchExpired
    ) -> None:
        await use_cases.queue_match_mails(
            NotificationRepository(conn), envelope, event, settings.message_id_domain
        )

    return consumer

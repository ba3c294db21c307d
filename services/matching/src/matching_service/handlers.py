"""Kafka entry points of the matcher: each turns one event into one use-case call."""

from __future__ import annotations

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MentorRegistered,
    ProfileDeleted,
    ProfileUpdated,
)
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import Outbox

from . import use_cases
from .config import MatchingSettings
from .repository import MatchingRepository


def profile_events_consumer(settings: MatchingSettings) -> EventConsumer:
    policy = settings.match_policy()
    producer = settings.service_name
    consumer = EventConsumer(
        "profile-events",
        PROFILE_EVENTS,
        description=(
            "Keeps the matcher's copy of profiles; proposes mentors to new mentees, offers "
            "freed slots, and re-evaluates open proposals when a profile changes or leaves."
        ),
    )

    def ports(conn: Connection) -> tuple[MatchingRepository, Outbox]:
        return MatchingRepository(conn), Outbox(conn, producer=producer)

    @consumer.on(MenteeRegistered)
    async def on_mentee_registered(
        conn: Connection, _: EventEnvelope, event: MenteeRegistered
    ) -> None:
        await use_cases.record_mentee(*ports(conn), event.profile, policy, event.owner_credential)

    @consumer.on(MentorRegistered)
    async def on_mentor_registered(
        conn: Connection, _: EventEnvelope, event: MentorRegistered
    ) -> None:
        await use_cases.record_mentor(*ports(conn), event.profile, policy, event.owner_credential)

    @consumer.on(ProfileUpdated)
    async def on_profile_updated(conn: Connection, _: EventEnvelope, event: ProfileUpdated) -> None:
        repo, outbox = ports(conn)
        if isinstance(event.profile, MenteeProfile):
            await use_cases.record_mentee(
                repo, outbox, event.profile, policy, event.owner_credential
            )
        else:
            await use_cases.record_mentor(
                repo, outbox, event.profile, policy, event.owner_credential
            )

    @consumer.on(ProfileDeleted)
    async def on_profile_deleted(conn: Connection, _: EventEnvelope, event: ProfileDeleted) -> None:
        await use_cases.forget_profile(*ports(conn), event, policy)

    return consumer

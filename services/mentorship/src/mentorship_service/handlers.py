"""Kafka entry points of the mentorship service: each turns one event into one use-case call."""

from __future__ import annotations

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MenteeRegistered,
    MentorRegistered,
    ProfileDeleted,
    ProfileUpdated,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.unit_of_work import Transaction

from . import use_cases
from .domain import MentorshipPolicy
from .repository import MentorshipRepository
from .use_cases import Clock

Tx = Transaction[MentorshipRepository]


def match_events_consumer(policy: MentorshipPolicy) -> EventConsumer:
    consumer = EventConsumer(
        "match-events",
        MATCH_EVENTS,
        description="Starts a mentorship when both sides of a match accepted.",
    )

    @consumer.on(MatchAccepted)
    async def on_match_accepted(tx: Tx, _: EventEnvelope, event: MatchAccepted) -> None:
        await use_cases.start_mentorship(tx.repo, tx.outbox, event, policy)

    return consumer


def profile_events_consumer(policy: MentorshipPolicy, clock: Clock) -> EventConsumer:
    consumer = EventConsumer(
        "profile-events",
        PROFILE_EVENTS,
        description=(
            "Keeps who may see a mentorship (the owners' credentials) and the mentees' "
            "self-assessments their progress is measured against; a deleted profile ends its "
            "mentorships and erases what they wrote."
        ),
    )

    @consumer.on(MenteeRegistered)
    async def on_mentee_registered(tx: Tx, _: EventEnvelope, event: MenteeRegistered) -> None:
        await use_cases.record_person(tx.repo, event.profile, event.owner_credential, policy)

    @consumer.on(MentorRegistered)
    async def on_mentor_registered(tx: Tx, _: EventEnvelope, event: MentorRegistered) -> None:
        await use_cases.record_person(tx.repo, event.profile, event.owner_credential, policy)

    @consumer.on(ProfileUpdated)
    async def on_profile_updated(tx: Tx, _: EventEnvelope, event: ProfileUpdated) -> None:
        await use_cases.record_person(tx.repo, event.profile, event.owner_credential, policy)

    @consumer.on(ProfileDeleted)
    async def on_profile_deleted(tx: Tx, _: EventEnvelope, event: ProfileDeleted) -> None:
        await use_cases.forget_person(tx.repo, tx.outbox, event.profile_id, clock(), policy)

    return consumer

"""Kafka entry points of the matcher: each turns one event into one use-case call, in the
transaction that records the event as processed."""

from __future__ import annotations

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MentorRegistered,
    MentorshipEnded,
    MentorshipOutcomeRecorded,
    ProfileDeleted,
    ProfileUpdated,
)
from mentorship_shared.contracts.topics import MENTORSHIP_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.unit_of_work import Transaction

from .repository import MatchingRepository
from .use_cases.common import Matchmaker
from .use_cases.mentorships import conclude_match, record_outcome
from .use_cases.profiles import forget_profile, record_mentee, record_mentor

Tx = Transaction[MatchingRepository]


def profile_events_consumer(matchmaker: Matchmaker) -> EventConsumer:
    consumer = EventConsumer(
        "profile-events",
        PROFILE_EVENTS,
        description=(
            "Keeps the matcher's copy of profiles; proposes mentors to new mentees, offers "
            "freed slots, and re-evaluates open proposals when a profile changes or leaves."
        ),
    )

    @consumer.on(MenteeRegistered)
    async def on_mentee_registered(tx: Tx, _: EventEnvelope, event: MenteeRegistered) -> None:
        await record_mentee(tx.repo, tx.outbox, matchmaker, event.profile, event.owner_credential)

    @consumer.on(MentorRegistered)
    async def on_mentor_registered(tx: Tx, _: EventEnvelope, event: MentorRegistered) -> None:
        await record_mentor(tx.repo, tx.outbox, matchmaker, event.profile, event.owner_credential)

    @consumer.on(ProfileUpdated)
    async def on_profile_updated(tx: Tx, _: EventEnvelope, event: ProfileUpdated) -> None:
        if isinstance(event.profile, MenteeProfile):
            await record_mentee(
                tx.repo, tx.outbox, matchmaker, event.profile, event.owner_credential
            )
        else:
            await record_mentor(
                tx.repo, tx.outbox, matchmaker, event.profile, event.owner_credential
            )

    @consumer.on(ProfileDeleted)
    async def on_profile_deleted(tx: Tx, _: EventEnvelope, event: ProfileDeleted) -> None:
        await forget_profile(tx.repo, tx.outbox, matchmaker, event)

    return consumer


def mentorship_events_consumer(matchmaker: Matchmaker) -> EventConsumer:
    consumer = EventConsumer(
        "mentorship-events",
        MENTORSHIP_EVENTS,
        description=(
            "Concludes the accepted match when its mentorship ends, freeing the mentor's slot "
            "once and offering it to waiting mentees; keeps each mentorship's outcome beside "
            "the proposal's score for the weights fitted offline."
        ),
    )

    @consumer.on(MentorshipEnded)
    async def on_mentorship_ended(tx: Tx, _: EventEnvelope, event: MentorshipEnded) -> None:
        await conclude_match(tx.repo, tx.outbox, matchmaker, event)

    @consumer.on(MentorshipOutcomeRecorded)
    async def on_mentorship_outcome_recorded(
        tx: Tx, _: EventEnvelope, event: MentorshipOutcomeRecorded
    ) -> None:
        await record_outcome(tx.repo, event)

    return consumer

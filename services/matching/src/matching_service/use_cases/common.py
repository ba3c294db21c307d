"""What the use cases share: the `Matchmaker`, refusals, and how a proposal or a lifecycle
change is stored and published."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import ExpiryReason, MatchOrigin

from .. import metrics
from ..directory import MentorDirectory
from ..match import Match, MatchRefused
from ..matcher.ranking import Proposal
from ..policy import MatchPolicy
from .ports import EventSink, MatchingStore, MentorPools

__all__ = ["MatchNotFound", "MatchRefused", "Matchmaker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Matchmaker:
    """What the use cases match with, built once when the service starts and held by it: the
    policy (from the settings) and the mentor pools (the process's mentor directory)."""

    policy: MatchPolicy
    mentors: MentorPools

    @classmethod
    def with_directory(cls, policy: MatchPolicy) -> Matchmaker:
        """A matchmaker with a new, empty mentor directory (one per process)."""
        return cls(policy, MentorDirectory(policy.config))


class MatchNotFound(MatchRefused):
    pass


UNKNOWN_MENTEE = (
    "The matcher does not know this mentee. A new registration reaches it within seconds; "
    "check the id if this persists."
)


async def publish_proposal(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    mentee_id: uuid.UUID,
    proposal: Proposal,
    *,
    origin: MatchOrigin = "online",
    round_id: uuid.UUID | None = None,
) -> Match:
    """Record a proposal whose slot is already reserved, and publish it."""
    match, event = Match.propose(
        mentee_id,
        proposal,
        datetime.now(UTC),
        matchmaker.policy.proposal_ttl,
        origin=origin,
        round_id=round_id,
    )
    await repo.add_match(match)
    await events.publish(event)
    metrics.MATCH_TRANSITIONS.labels(match.status).inc()
    metrics.MATCH_SCORE.labels(origin).observe(proposal.score)
    log.info(
        "proposed a mentor",
        extra={"match_id": str(match.id), "origin": origin, "score": proposal.score},
    )
    return match


async def record_change(
    repo: MatchingStore,
    events: EventSink,
    before: Match,
    after: Match,
    event: EventPayload | None,
) -> None:
    """Store what a lifecycle method returned and publish its event. A match that ended gives
    its mentor's slot back."""
    if after is before:
        return
    await repo.save_match(after, was=before.status)
    if before.is_open and not after.is_open:
        await repo.release_slot(after.mentor_id)
    if event is not None:
        await events.publish(event)
        metrics.MATCH_TRANSITIONS.labels(after.status).inc()


async def end_as_expired(
    repo: MatchingStore, events: EventSink, match: Match, reason: ExpiryReason
) -> Match:
    ended, event = match.expire(reason, datetime.now(UTC))
    await record_change(repo, events, match, ended, event)
    return ended


async def excluded_for(repo: MatchingStore, mentee_id: uuid.UUID) -> set[uuid.UUID]:
    """Mentors never to propose to this mentee again."""
    return (await repo.closed_pairs([mentee_id]))[mentee_id]

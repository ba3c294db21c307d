"""What the matcher does when profiles arrive, change or leave.

Every use case runs inside the transaction that also records the event as processed, so a
redelivered event changes nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mentorship_shared.contracts.events import (
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    ProfileDeleted,
)
from mentorship_shared.plumbing.outbox import EventSink

from .domain import Proposal, rank_mentors
from .repository import MatchingRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchPolicy:
    proposal_ttl: timedelta
    waiting_mentees_per_event: int


async def record_mentee(
    repo: MatchingRepository, events: EventSink, profile: MenteeProfile, policy: MatchPolicy
) -> Proposal | None:
    """Keep the mentee's latest profile; propose a mentor if the mentee is waiting."""
    if not await repo.upsert_mentee(profile):
        return None
    return await propose_mentor(repo, events, profile.profile_id, policy)


async def record_mentor(
    repo: MatchingRepository, events: EventSink, profile: MentorProfile, policy: MatchPolicy
) -> int:
    """Keep the mentor's latest profile and offer any free slots to waiting mentees."""
    if not await repo.upsert_mentor(profile):
        return 0
    if not profile.accepting_mentees:
        return 0
    return await offer_to_waiting_mentees(repo, events, profile.languages, policy)


async def propose_mentor(
    repo: MatchingRepository, events: EventSink, mentee_id: uuid.UUID, policy: MatchPolicy
) -> Proposal | None:
    """Propose the best mentor with a free slot to a waiting mentee and reserve the slot."""
    mentee = await repo.lock_waiting_mentee(mentee_id)
    if mentee is None:
        return None
    for proposal in rank_mentors(mentee, await repo.candidate_mentors(mentee)):
        # The best mentor may have been filled by another matcher since we read the list;
        # the guarded reservation says so, and the next best is tried.
        if not await repo.reserve_slot(proposal.mentor_id):
            continue
        match_id = uuid.uuid4()
        expires_at = datetime.now(UTC) + policy.proposal_ttl
        await repo.add_match(match_id, mentee_id, proposal, expires_at)
        await events.publish(
            MatchProposed(
                match_id=match_id,
                mentee_id=mentee_id,
                mentor_id=proposal.mentor_id,
                score=proposal.score,
                score_breakdown=proposal.breakdown,
                explanation=proposal.explanation,
                covered_skills=proposal.covered_skills,
                uncovered_skills=proposal.uncovered_skills,
                algorithm_version=proposal.algorithm_version,
                expires_at=expires_at,
            )
        )
        log.info(
            "proposed a mentor",
            extra={"match_id": str(match_id), "mentee_id": str(mentee_id), "score": proposal.score},
        )
        return proposal
    return None


async def offer_to_waiting_mentees(
    repo: MatchingRepository, events: EventSink, languages: list[str], policy: MatchPolicy
) -> int:
    """Try to match waiting mentees who share one of `languages`, oldest first."""
    proposed = 0
    for mentee_id in await repo.lock_waiting_mentees(languages, policy.waiting_mentees_per_event):
        if await propose_mentor(repo, events, mentee_id, policy) is not None:
            proposed += 1
    return proposed


async def forget_profile(
    repo: MatchingRepository, events: EventSink, deleted: ProfileDeleted, policy: MatchPolicy
) -> None:
    """End the profile's open matches, free their slots, forget it, and re-match the mentees
    who lost their mentor."""
    ended = await repo.end_open_matches(deleted.profile_id, reason="profile_deleted")
    await repo.erase(deleted.profile_id)
    if deleted.kind == "mentor":
        for match in ended:
            await propose_mentor(repo, events, match.mentee_id, policy)

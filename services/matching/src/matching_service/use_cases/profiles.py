"""Profiles arrive from the profile service: the matcher keeps its copy, proposes to new
mentees, re-evaluates what a change affects, and forgets a deleted profile."""

from __future__ import annotations

from mentorship_shared.contracts.events import (
    ExpiryReason,
    MenteeProfile,
    MentorProfile,
    ProfileDeleted,
)

from ..match import Match
from ..matcher.pool import Mentee
from ..matcher.ranking import Proposal, iter_proposals
from .common import Matchmaker, end_as_expired
from .ports import EventSink, MatchingStore
from .proposals import offer_freed_slot, offer_to_waiting_mentees, propose, propose_to_waiting


async def record_mentee(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    profile: MenteeProfile,
    credential: str | None = None,
) -> Proposal | None:
    """Keep the mentee's latest profile; propose a mentor to a waiting mentee, or move a
    pending proposal when the changed profile fits another mentor clearly better."""
    mentee = await repo.upsert_mentee(profile, credential)
    if mentee is None:
        return None
    current = await repo.open_match(mentee.id)
    if current is None:
        if matchmaker.policy.online:
            return await propose(repo, events, matchmaker, mentee)
        return None
    if not current.is_unanswered:
        return None  # someone already said yes: a profile edit does not undo that
    return await _reconsider(repo, events, matchmaker, mentee, current)


async def record_mentor(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    profile: MentorProfile,
    credential: str | None = None,
) -> int:
    """Keep the mentor's latest profile. A pause withdraws the proposals the mentor has not
    accepted; a lower capacity withdraws the newest of them beyond it; free slots are offered
    to waiting mentees. Returns how many proposals were made."""
    if not await repo.upsert_mentor(profile, credential):
        return 0
    mentor = await repo.lock_mentor(profile.profile_id)
    if mentor is None:
        return 0
    pending = [
        match
        for match in await repo.open_matches_of(mentor.id)
        if match.mentor_id == mentor.id and match.awaits("mentor")
    ]
    withdrawn: list[Match] = []
    if not mentor.accepting_mentees:
        withdrawn = pending
        reason: ExpiryReason = "mentor_paused"
    else:
        excess = mentor.load - mentor.requested_capacity
        withdrawn = pending[: max(0, excess)]  # newest first
        reason = "capacity_lowered"
    for match in withdrawn:
        await end_as_expired(repo, events, match, reason)
    proposed = 0
    if matchmaker.policy.online:
        for match in withdrawn:
            proposed += await propose_to_waiting(repo, events, matchmaker, match.mentee_id)
        if mentor.accepting_mentees:
            proposed += await offer_to_waiting_mentees(repo, events, matchmaker, profile.languages)
    return proposed


async def forget_profile(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, deleted: ProfileDeleted
) -> None:
    """End the profile's open matches (slots released), forget it for good, and find new
    mentors for the mentees who lost theirs."""
    ended = await repo.open_matches_of(deleted.profile_id)
    for match in ended:
        await end_as_expired(repo, events, match, "profile_deleted")
    await repo.erase(deleted.profile_id)
    for match in ended:
        if match.mentor_id == deleted.profile_id:
            if matchmaker.policy.online:
                await propose_to_waiting(repo, events, matchmaker, match.mentee_id)
        else:
            await offer_freed_slot(repo, events, matchmaker, match.mentor_id)


async def _reconsider(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    mentee: Mentee,
    current: Match,
) -> Proposal | None:
    """After a profile change: keep the pending proposal unless another mentor now fits
    clearly better (by `rematch_margin`)."""
    available, excluded = await matchmaker.mentors.available_to(
        repo, mentee.id, sorted(mentee.languages), include=[current.mentor_id]
    )
    # The current mentor's slot is held for this very mentee: count it as free here.
    pool = available.holding(current.mentor_id)
    scores, allowed = pool.evaluate([mentee], [excluded])
    column = pool.position.get(current.mentor_id)
    current_score = (
        float(scores.total[0, column]) if column is not None and allowed[0, column] else 0.0
    )
    best = next(iter_proposals(mentee, pool, excluded), None)
    if best is None or best.mentor_id == current.mentor_id:
        return None
    if best.score < current_score + matchmaker.policy.rematch_margin:
        return None
    await end_as_expired(repo, events, current, "profile_changed")
    return await propose(repo, events, matchmaker, mentee, pool=pool.without(current.mentor_id))

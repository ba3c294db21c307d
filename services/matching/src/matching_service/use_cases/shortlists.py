"""A mentee looks at their best available mentors, and asks the one they pick."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from ..match import Match, MatchRefused, MatchStatus
from ..matcher.pool import Mentee, Mentor
from ..matcher.ranking import SHORTLIST_DEPTH, Proposal, proposal_for, rank_mentors, shortlist
from .answers import accept_match
from .common import (
    UNKNOWN_MENTEE,
    Matchmaker,
    MatchNotFound,
    publish_proposal,
    record_change,
)
from .ports import EventSink, MatchingStore


async def suggest_mentors(
    repo: MatchingStore, matchmaker: Matchmaker, mentee_id: uuid.UUID, limit: int
) -> list[Proposal]:
    """The mentee's best available mentors under the exposure rule (a mentee keeps seeing
    whom they saw recently). The shown mentors are recorded."""
    policy = matchmaker.policy
    mentee = await repo.get_mentee(mentee_id)
    if mentee is None:
        raise MatchNotFound("mentee_not_found", UNKNOWN_MENTEE)
    pool, excluded = await matchmaker.mentors.available_to(
        repo, mentee_id, sorted(mentee.languages)
    )
    ranked = rank_mentors(mentee, pool, excluded, limit=limit * SHORTLIST_DEPTH)
    since = datetime.now(UTC) - policy.exposure_window
    seen = await repo.exposure(mentee_id, [p.mentor_id for p in ranked], since)
    shown = shortlist(ranked, pool, seen, limit, policy.exposure_per_slot)
    await repo.record_exposure(mentee_id, [p.mentor_id for p in shown])
    return shown


async def request_mentor(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
) -> Match:
    """The mentee picks a mentor (from the shortlist): a proposal the mentee has already
    accepted, waiting for the mentor. A pending proposal to someone else is declined."""
    mentee = await repo.lock_mentee(mentee_id)
    if mentee is None:
        raise MatchNotFound("mentee_not_found", UNKNOWN_MENTEE)
    current = await repo.open_match(mentee_id)
    if current is not None and current.mentor_id == mentor_id:
        return await accept_match(repo, events, current.id, "mentee")
    if current is not None and current.status is MatchStatus.ACCEPTED:
        raise MatchRefused(
            "already_matched", "You already have an accepted mentor; a second one is not offered."
        )
    # The same market the suggestions were ranked in (plus the pick, whatever its slots), so
    # the proposal records the score the mentee was shown.
    pool, excluded = await matchmaker.mentors.available_to(
        repo, mentee_id, sorted(mentee.languages), include=[mentor_id]
    )
    column = pool.position.get(mentor_id)
    if column is None:
        raise MatchNotFound("mentor_not_found", "No mentor with this id is known to the matcher.")
    scores, allowed = pool.evaluate([mentee], [excluded])
    if not allowed[0, column] or scores.total[0, column] <= 0:
        reason = _why_unavailable(
            mentee, pool.mentors[column], int(pool.free_slots[column]), excluded
        )
        raise MatchRefused("mentor_unavailable", reason)
    proposal = proposal_for(mentee, pool, scores, 0, column)
    if current is not None:
        declined, event = current.decline("mentee", "chose another mentor", datetime.now(UTC))
        await record_change(repo, events, current, declined, event)
    if not await repo.reserve_slot(mentor_id):
        raise MatchRefused("mentor_unavailable", "This mentor's last free slot was just taken.")
    return await publish_proposal(repo, events, matchmaker, mentee_id, proposal, origin="request")


def _why_unavailable(
    mentee: Mentee, mentor: Mentor, free_slots: int, excluded: Collection[uuid.UUID]
) -> str:
    if mentor.id in excluded:
        return (
            "This pairing was declined, left unanswered or had its mentorship before; pick "
            "another mentor."
        )
    if free_slots <= 0:
        return "This mentor has no free slot or has paused; pick another mentor."
    if not mentee.languages & mentor.languages:
        return "You and this mentor share no language; pick another mentor."
    if mentor.id == mentee.id:
        return "You cannot mentor yourself."
    return (
        "This mentor is outside your timezone limit or cannot teach any of your gaps; "
        "pick another mentor from your suggestions."
    )

"""The matcher proposes: the best available mentor to a waiting mentee (or, with nobody
suitable, a learning plan), and freed or new slots to the mentees waiting for one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ..matcher.pool import Mentee, MentorPool
from ..matcher.ranking import Proposal, iter_proposals, proposal_for
from ..matcher.scoring import rank
from .common import Matchmaker, excluded_for, publish_proposal
from .plans import issue_learning_plan
from .ports import EventSink, MatchingStore

_BLOCK = 256  # mentees scored together


async def propose_mentor(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, mentee_id: uuid.UUID
) -> Proposal | None:
    """Propose the best available mentor to a waiting mentee and reserve the slot."""
    mentee = await repo.lock_waiting_mentee(mentee_id)
    if mentee is None:
        return None
    return await propose(repo, events, matchmaker, mentee)


async def propose(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    mentee: Mentee,
    pool: MentorPool | None = None,
) -> Proposal | None:
    """Reserve the best mentor who still has a slot (in `pool`, else among every available
    mentor sharing a language) and publish the proposal. With nobody to propose, the mentee
    keeps waiting and is given a learning plan for their gaps (once per plan version)."""
    if pool is None:
        pool, excluded = await matchmaker.mentors.available_to(
            repo, mentee.id, sorted(mentee.languages)
        )
    else:
        excluded = await excluded_for(repo, mentee.id)
    for proposal in iter_proposals(mentee, pool, excluded):
        # The best mentor may have been filled by another matcher since the pool was read;
        # the guarded reservation says so, and the next best is tried.
        if await repo.reserve_slot(proposal.mentor_id):
            pool.free_slots[pool.position[proposal.mentor_id]] -= 1
            await publish_proposal(repo, events, matchmaker, mentee.id, proposal)
            return proposal
        pool.free_slots[pool.position[proposal.mentor_id]] = 0
    await issue_learning_plan(repo, events, matchmaker, mentee)
    return None


async def offer_to_waiting_mentees(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    languages: Sequence[str] | None,
    *,
    most: int | None = None,
) -> int:
    """Propose mentors to waiting mentees who speak one of `languages`, oldest first (at most
    `most` proposals, when only that many slots were freed). Returns how many were made."""
    policy = matchmaker.policy
    waiting = await repo.lock_waiting_mentees(languages, policy.waiting_mentees_per_event)
    mentees = await repo.get_mentees(waiting, waiting_only=True)
    if not mentees:
        return 0
    # One pool and one scoring pass for the batch; free slots are kept up to date as they are
    # taken, and every reservation is still checked by the database.
    pool = await matchmaker.mentors.available(repo)
    closed = await repo.closed_pairs([m.id for m in mentees])
    proposed = 0
    for start in range(0, len(mentees), _BLOCK):
        batch = mentees[start : start + _BLOCK]
        scores, allowed = pool.evaluate(batch, [closed[m.id] for m in batch])
        for row, mentee in enumerate(batch):
            for column in rank(scores.total[row], allowed[row] & (pool.free_slots > 0)):
                if await repo.reserve_slot(pool.ids[column]):
                    pool.free_slots[column] -= 1
                    proposal = proposal_for(mentee, pool, scores, row, int(column))
                    await publish_proposal(repo, events, matchmaker, mentee.id, proposal)
                    proposed += 1
                    break
                pool.free_slots[column] = 0  # filled by another matcher meanwhile
            if most is not None and proposed >= most:
                return proposed
    return proposed


async def offer_freed_slot(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, mentor_id: uuid.UUID
) -> int:
    """A slot of this mentor came free: offer it to the mentees waiting for one (online)."""
    if not matchmaker.policy.online:
        return 0
    languages = await repo.mentor_languages(mentor_id)
    if languages is None:
        return 0
    return await offer_to_waiting_mentees(repo, events, matchmaker, languages, most=1)


async def propose_to_waiting(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, mentee_id: uuid.UUID
) -> int:
    """`propose_mentor`, counted: 1 when a proposal was made."""
    return int(await propose_mentor(repo, events, matchmaker, mentee_id) is not None)

"""What the matcher does: keep profiles, propose, answer, expire, re-evaluate, run rounds.

Every use case runs inside one transaction that the caller owns (for events, the same one that
records the event as processed), so a redelivered event or a retried request changes nothing
twice. Row locks are taken mentee first, then match, then mentor (the order the database
sees in `reserve_slot` and `release_slot`); paths that cannot keep that order rely on
PostgreSQL's deadlock detection, and their callers retry.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
from mentorship_shared.contracts.events import (
    ExpiryReason,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchOrigin,
    MatchParty,
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    ProfileDeleted,
)
from mentorship_shared.plumbing import metrics
from mentorship_shared.plumbing.outbox import EventSink

from .matcher.assignment import assign_greedy, assign_optimal, candidate_graph
from .matcher.pool import Mentee, Mentor, MentorPool
from .matcher.ranking import Proposal, iter_proposals, proposal_for
from .matcher.scoring import ScoringConfig, default_config, rank
from .repository import MatchingRepository, MatchRecord, RoundRecord

if TYPE_CHECKING:
    from .directory import MentorDirectory

log = logging.getLogger(__name__)

_BLOCK = 256  # mentees scored together
MatchingMode = Literal["online", "cohort"]


@dataclass(frozen=True)
class MatchPolicy:
    proposal_ttl: timedelta
    waiting_mentees_per_event: int
    #: 'online' proposes as soon as a mentee or a slot appears; 'cohort' leaves waiting
    #: mentees to the next round (a mentee's own request is honoured in both).
    mode: MatchingMode = "online"
    #: A changed mentee profile moves a pending proposal only for a mentor this much better.
    rematch_margin: float = 0.05
    exposure_per_slot: int = 3
    exposure_window: timedelta = timedelta(days=1)
    round_candidates_per_mentee: int = 25
    config: ScoringConfig = field(default_factory=default_config)
    #: The process's cached mentor pool (None: every match reads the mentors afresh).
    directory: MentorDirectory | None = field(default=None, compare=False, repr=False)


class MatchRefused(Exception):
    """A request the current state does not allow; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MatchNotFound(MatchRefused):
    pass


# --- profiles ------------------------------------------------------------------------------


async def record_mentee(
    repo: MatchingRepository,
    events: EventSink,
    profile: MenteeProfile,
    policy: MatchPolicy,
    credential: str | None = None,
) -> Proposal | None:
    """Keep the mentee's latest profile; propose a mentor to a waiting mentee, or move a
    pending proposal when the changed profile fits another mentor clearly better."""
    mentee = await repo.upsert_mentee(profile, credential)
    if mentee is None:
        return None
    current = await repo.open_match(mentee.id)
    if current is None:
        if policy.mode == "online":
            return await _propose(repo, events, mentee, policy)
        return None
    if current.status != "proposed" or current.accepted_by():
        return None  # someone already said yes: a profile edit does not undo that
    return await _reconsider(repo, events, mentee, current, policy)


async def record_mentor(
    repo: MatchingRepository,
    events: EventSink,
    profile: MentorProfile,
    policy: MatchPolicy,
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
        if match.mentor_id == mentor.id
        and match.status == "proposed"
        and match.mentor_accepted_at is None
    ]
    withdrawn: list[MatchRecord] = []
    if not mentor.accepting_mentees:
        withdrawn = pending
        reason: ExpiryReason = "mentor_paused"
    else:
        excess = mentor.load - mentor.requested_capacity
        withdrawn = pending[: max(0, excess)]  # newest first
        reason = "capacity_lowered"
    for match in withdrawn:
        await _end_as_expired(repo, events, match, reason)
    proposed = 0
    if policy.mode == "online":
        for match in withdrawn:
            proposed += await _propose_to_waiting(repo, events, match.mentee_id, policy)
        if mentor.accepting_mentees:
            proposed += await offer_to_waiting_mentees(repo, events, profile.languages, policy)
    return proposed


async def forget_profile(
    repo: MatchingRepository, events: EventSink, deleted: ProfileDeleted, policy: MatchPolicy
) -> None:
    """End the profile's open matches (slots released), forget it for good, and find new
    mentors for the mentees who lost theirs."""
    ended = await repo.open_matches_of(deleted.profile_id)
    for match in ended:
        await _end_as_expired(repo, events, match, "profile_deleted")
    await repo.erase(deleted.profile_id)
    for match in ended:
        if match.mentor_id == deleted.profile_id:
            if policy.mode == "online":
                await _propose_to_waiting(repo, events, match.mentee_id, policy)
        else:
            await _offer_freed_slot(repo, events, match.mentor_id, policy)


# --- proposals -----------------------------------------------------------------------------


async def propose_mentor(
    repo: MatchingRepository, events: EventSink, mentee_id: uuid.UUID, policy: MatchPolicy
) -> Proposal | None:
    """Propose the best available mentor to a waiting mentee and reserve the slot."""
    mentee = await repo.lock_waiting_mentee(mentee_id)
    if mentee is None:
        return None
    return await _propose(repo, events, mentee, policy)


async def offer_to_waiting_mentees(
    repo: MatchingRepository,
    events: EventSink,
    languages: Sequence[str] | None,
    policy: MatchPolicy,
    *,
    most: int | None = None,
) -> int:
    """Propose mentors to waiting mentees who speak one of `languages`, oldest first (at most
    `most` proposals, when only that many slots were freed). Returns how many were made."""
    waiting = await repo.lock_waiting_mentees(languages, policy.waiting_mentees_per_event)
    mentees = await repo.get_mentees(waiting, waiting_only=True)
    if not mentees:
        return 0
    # One pool and one scoring pass for the batch; free slots are kept up to date as they are
    # taken, and every reservation is still checked by the database.
    pool = await repo.mentor_pool(policy.config, None, policy.directory)
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
                    await _publish_proposal(repo, events, mentee.id, proposal, policy)
                    proposed += 1
                    break
                pool.free_slots[column] = 0  # filled by another matcher meanwhile
            if most is not None and proposed >= most:
                return proposed
    return proposed


async def _offer_freed_slot(
    repo: MatchingRepository, events: EventSink, mentor_id: uuid.UUID, policy: MatchPolicy
) -> int:
    """A slot of this mentor came free: offer it to the mentees waiting for one."""
    if policy.mode != "online":
        return 0
    languages = await repo.mentor_languages(mentor_id)
    if languages is None:
        return 0
    return await offer_to_waiting_mentees(repo, events, languages, policy, most=1)


async def _propose_to_waiting(
    repo: MatchingRepository, events: EventSink, mentee_id: uuid.UUID, policy: MatchPolicy
) -> int:
    return int(await propose_mentor(repo, events, mentee_id, policy) is not None)


async def _propose(
    repo: MatchingRepository,
    events: EventSink,
    mentee: Mentee,
    policy: MatchPolicy,
    pool: MentorPool | None = None,
) -> Proposal | None:
    """Reserve the best mentor who still has a slot and publish the proposal."""
    if pool is None:
        pool = await repo.mentor_pool(policy.config, sorted(mentee.languages), policy.directory)
    excluded = (await repo.closed_pairs([mentee.id]))[mentee.id]
    for proposal in iter_proposals(mentee, pool, excluded):
        # The best mentor may have been filled by another matcher since the pool was read;
        # the guarded reservation says so, and the next best is tried.
        if await repo.reserve_slot(proposal.mentor_id):
            pool.free_slots[pool.position[proposal.mentor_id]] -= 1
            await _publish_proposal(repo, events, mentee.id, proposal, policy)
            return proposal
        pool.free_slots[pool.position[proposal.mentor_id]] = 0
    return None


async def _publish_proposal(
    repo: MatchingRepository,
    events: EventSink,
    mentee_id: uuid.UUID,
    proposal: Proposal,
    policy: MatchPolicy,
    *,
    origin: MatchOrigin = "online",
    round_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record a proposal whose slot is already reserved, and publish it."""
    match_id = uuid.uuid4()
    expires_at = datetime.now(UTC) + policy.proposal_ttl
    accepted_by: list[MatchParty] = ["mentee"] if origin == "request" else []
    await repo.add_match(
        match_id,
        mentee_id,
        proposal,
        expires_at,
        origin=origin,
        round_id=round_id,
        mentee_accepted=bool(accepted_by),
    )
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
            weights_version=proposal.weights_version,
            origin=origin,
            round_id=round_id,
            accepted_by=accepted_by,
            expires_at=expires_at,
        )
    )
    metrics.MATCH_TRANSITIONS.labels("proposed").inc()
    metrics.MATCH_SCORE.labels(origin).observe(proposal.score)
    log.info(
        "proposed a mentor",
        extra={"match_id": str(match_id), "origin": origin, "score": proposal.score},
    )
    return match_id


async def _reconsider(
    repo: MatchingRepository,
    events: EventSink,
    mentee: Mentee,
    current: MatchRecord,
    policy: MatchPolicy,
) -> Proposal | None:
    """After a profile change: keep the pending proposal unless another mentor now fits
    clearly better (by `rematch_margin`)."""
    mentors = await repo.available_mentors(sorted(mentee.languages), include=[current.mentor_id])
    # The current mentor's slot is held for this very mentee: count it as free here.
    mentors = [
        dataclasses.replace(m, free_slots=m.free_slots + 1) if m.id == current.mentor_id else m
        for m in mentors
    ]
    pool = MentorPool(mentors, policy.config)
    excluded = (await repo.closed_pairs([mentee.id]))[mentee.id]
    scores, allowed = pool.evaluate([mentee], [excluded])
    column = pool.position.get(current.mentor_id)
    current_score = (
        float(scores.total[0, column]) if column is not None and allowed[0, column] else 0.0
    )
    best = next(iter_proposals(mentee, pool, excluded), None)
    if best is None or best.mentor_id == current.mentor_id:
        return None
    if best.score < current_score + policy.rematch_margin:
        return None
    await _end_as_expired(repo, events, current, "profile_changed")
    others = MentorPool([m for m in mentors if m.id != current.mentor_id], policy.config)
    return await _propose(repo, events, mentee, policy, pool=others)


# --- answers -------------------------------------------------------------------------------


async def accept_match(
    repo: MatchingRepository, events: EventSink, match_id: uuid.UUID, party: MatchParty
) -> MatchRecord:
    """One side says yes; when both have, the match is accepted. Saying yes twice is fine."""
    match = await _lock_match_for_answer(repo, match_id)
    if match.status == "accepted":
        return match
    if match.status != "proposed":
        raise MatchRefused(
            "match_closed", f"This match was {match.status}; it can no longer be accepted."
        )
    if party in match.accepted_by():
        return match
    updated = await repo.record_acceptance(match_id, party)
    if updated.status == "accepted" and updated.accepted_at is not None:
        await events.publish(
            MatchAccepted(
                match_id=updated.id,
                mentee_id=updated.mentee_id,
                mentor_id=updated.mentor_id,
                accepted_at=updated.accepted_at,
            )
        )
        metrics.MATCH_TRANSITIONS.labels("accepted").inc()
    return updated


async def decline_match(
    repo: MatchingRepository,
    events: EventSink,
    match_id: uuid.UUID,
    party: MatchParty,
    reason: str | None,
    policy: MatchPolicy,
) -> MatchRecord:
    """One side says no: the slot is released, the pair never returns, and (online) the
    mentee gets the next best mentor. Declining again is fine."""
    match = await _lock_match_for_answer(repo, match_id)
    if match.status == "declined":
        return match
    if match.status != "proposed":
        raise MatchRefused(
            "match_closed",
            f"This match was {match.status}; only a proposal that is still open can be declined.",
        )
    ended = await _end_as_declined(repo, events, match, party, reason)
    if policy.mode == "online":
        await propose_mentor(repo, events, match.mentee_id, policy)
    await _offer_freed_slot(repo, events, match.mentor_id, policy)
    return ended


async def request_mentor(
    repo: MatchingRepository,
    events: EventSink,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
    policy: MatchPolicy,
) -> MatchRecord:
    """The mentee picks a mentor (from the shortlist): a proposal the mentee has already
    accepted, waiting for the mentor. A pending proposal to someone else is declined."""
    mentee = await repo.lock_mentee(mentee_id)
    if mentee is None:
        raise MatchNotFound("mentee_not_found", UNKNOWN_MENTEE)
    current = await repo.open_match(mentee_id)
    if current is not None and current.mentor_id == mentor_id:
        return await accept_match(repo, events, current.id, "mentee")
    if current is not None and current.status == "accepted":
        raise MatchRefused(
            "already_matched", "You already have an accepted mentor; a second one is not offered."
        )
    # The same pool the suggestions were ranked in (plus the pick, whatever its slots), so
    # the proposal records the score the mentee was shown.
    pool = MentorPool(
        await repo.available_mentors(sorted(mentee.languages), include=[mentor_id]),
        policy.config,
    )
    column = pool.position.get(mentor_id)
    if column is None:
        raise MatchNotFound("mentor_not_found", "No mentor with this id is known to the matcher.")
    mentor = pool.mentors[column]
    excluded = (await repo.closed_pairs([mentee_id]))[mentee_id]
    scores, allowed = pool.evaluate([mentee], [excluded])
    if not allowed[0, column] or scores.total[0, column] <= 0:
        raise MatchRefused("mentor_unavailable", _why_unavailable(mentee, mentor, excluded))
    proposal = proposal_for(mentee, pool, scores, 0, column)
    if current is not None:
        await _end_as_declined(repo, events, current, "mentee", "chose another mentor")
    if not await repo.reserve_slot(mentor_id):
        raise MatchRefused("mentor_unavailable", "This mentor's last free slot was just taken.")
    match_id = await _publish_proposal(repo, events, mentee_id, proposal, policy, origin="request")
    created = await repo.get_match(match_id)
    assert created is not None
    return created


async def expire_match(
    repo: MatchingRepository, events: EventSink, match_id: uuid.UUID, policy: MatchPolicy
) -> bool:
    """Let one proposal lapse if it is still unanswered past its time; next proposal."""
    match = await repo.get_match(match_id)
    if match is None:
        return False
    await repo.lock_mentee(match.mentee_id)
    match = await repo.lock_match(match_id)
    now = datetime.now(UTC)
    if (
        match is None
        or match.status != "proposed"
        or match.expires_at is None
        or match.expires_at > now
    ):
        return False
    await _end_as_expired(repo, events, match, "timeout")
    if policy.mode == "online":
        await propose_mentor(repo, events, match.mentee_id, policy)
    await _offer_freed_slot(repo, events, match.mentor_id, policy)
    return True


async def _lock_match_for_answer(repo: MatchingRepository, match_id: uuid.UUID) -> MatchRecord:
    match = await repo.get_match(match_id)
    if match is None:
        raise MatchNotFound("match_not_found", "No match with this id.")
    await repo.lock_mentee(match.mentee_id)  # mentee first, the order every path keeps
    locked = await repo.lock_match(match_id)
    assert locked is not None  # matches are never deleted
    return locked


async def _end_as_expired(
    repo: MatchingRepository, events: EventSink, match: MatchRecord, reason: ExpiryReason
) -> None:
    await repo.end_match(match.id, "expired", reason)
    await events.publish(
        MatchExpired(
            match_id=match.id, mentee_id=match.mentee_id, mentor_id=match.mentor_id, reason=reason
        )
    )
    metrics.MATCH_TRANSITIONS.labels("expired").inc()


async def _end_as_declined(
    repo: MatchingRepository,
    events: EventSink,
    match: MatchRecord,
    party: MatchParty,
    reason: str | None,
) -> MatchRecord:
    ended = await repo.end_match(
        match.id, "declined", f"declined_by_{party}", declined_by=party, decline_reason=reason
    )
    await events.publish(
        MatchDeclined(
            match_id=match.id,
            mentee_id=match.mentee_id,
            mentor_id=match.mentor_id,
            declined_by=party,
            reason=reason,
        )
    )
    metrics.MATCH_TRANSITIONS.labels("declined").inc()
    return ended


UNKNOWN_MENTEE = (
    "The matcher does not know this mentee. A new registration reaches it within seconds; "
    "check the id if this persists."
)


def _why_unavailable(mentee: Mentee, mentor: Mentor, excluded: set[uuid.UUID]) -> str:
    if mentor.id in excluded:
        return "This pairing was declined or left unanswered before; pick another mentor."
    if mentor.free_slots <= 0:
        return "This mentor has no free slot or has paused; pick another mentor."
    if not mentee.languages & mentor.languages:
        return "You and this mentor share no language; pick another mentor."
    if mentor.id == mentee.id:
        return "You cannot mentor yourself."
    return (
        "This mentor is outside your timezone limit or cannot teach any of your gaps; "
        "pick another mentor from your suggestions."
    )


# --- shortlists ----------------------------------------------------------------------------


async def suggest_mentors(
    repo: MatchingRepository, mentee_id: uuid.UUID, limit: int, policy: MatchPolicy
) -> list[Proposal]:
    """The mentee's best available mentors, with exposure limited by remaining capacity: a
    mentor already on `exposure_per_slot` other shortlists per free slot is left to those
    mentees (a mentee keeps seeing whom they saw recently). The shown mentors are recorded."""
    mentee = await repo.get_mentee(mentee_id)
    if mentee is None:
        raise MatchNotFound("mentee_not_found", UNKNOWN_MENTEE)
    pool = await repo.mentor_pool(policy.config, sorted(mentee.languages), policy.directory)
    excluded = (await repo.closed_pairs([mentee_id]))[mentee_id]
    ranked = []
    for proposal in iter_proposals(mentee, pool, excluded):
        ranked.append(proposal)
        if len(ranked) >= limit * 4:
            break
    since = datetime.now(UTC) - policy.exposure_window
    seen = await repo.exposure(mentee_id, [p.mentor_id for p in ranked], since)
    shown = []
    for proposal in ranked:
        others, already_seen = seen.get(proposal.mentor_id, (0, False))
        free = int(pool.free_slots[pool.position[proposal.mentor_id]])
        if already_seen or others < policy.exposure_per_slot * free:
            shown.append(proposal)
        if len(shown) == limit:
            break
    await repo.record_exposure(mentee_id, [p.mentor_id for p in shown])
    return shown


# --- cohort rounds -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundOutcome:
    record: RoundRecord
    match_ids: list[uuid.UUID]


async def run_round(
    repo: MatchingRepository, events: EventSink, policy: MatchPolicy
) -> RoundOutcome:
    """Assign every waiting mentee at once, maximising the total score within every mentor's
    free slots, and publish the proposals. The first-come greedy assignment of the same
    cohort is computed alongside, for the report."""
    started_at = datetime.now(UTC)
    round_id = uuid.uuid4()
    waiting_ids = await repo.lock_waiting_mentees(None, limit=1_000_000)
    mentees = await repo.get_mentees(waiting_ids, waiting_only=True)
    pool = MentorPool(await repo.available_mentors(), policy.config)
    excluded_by_mentee = await repo.closed_pairs([m.id for m in mentees])
    excluded = [excluded_by_mentee[m.id] for m in mentees]
    graph = candidate_graph(mentees, pool, excluded, policy.round_candidates_per_mentee)
    capacity = pool.free_slots.copy()
    optimal = assign_optimal(graph, capacity)
    greedy = assign_greedy(graph, capacity)
    match_ids = []
    assigned = np.flatnonzero(optimal.mentor_of >= 0)
    for start in range(0, len(assigned), _BLOCK):
        rows = assigned[start : start + _BLOCK]
        batch = [mentees[row] for row in rows]
        scores = pool.score(batch)  # again, for each pair's breakdown and explanation
        for i, row in enumerate(rows):
            column = int(optimal.mentor_of[row])
            proposal = proposal_for(batch[i], pool, scores, i, column)
            if not await repo.reserve_slot(proposal.mentor_id):
                # Taken by a concurrent proposal since the pool was read; the mentee stays
                # waiting for the next round (or an online proposal).
                continue
            match_ids.append(
                await _publish_proposal(
                    repo, events, batch[i].id, proposal, policy, origin="round", round_id=round_id
                )
            )
    record = RoundRecord(
        id=round_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        method=optimal.method,
        mentees_waiting=len(mentees),
        mentors_with_slots=int((pool.free_slots > 0).sum()),
        proposed=len(match_ids),
        total_score=round(optimal.total_score, 4),
        greedy_matched=greedy.matched,
        greedy_total_score=round(greedy.total_score, 4),
        mentor_load={
            "optimal": _load_histogram(optimal.mentor_load(len(pool)), capacity),
            "greedy": _load_histogram(greedy.mentor_load(len(pool)), capacity),
        },
    )
    await repo.add_round(record)
    log.info(
        "cohort round finished",
        extra={"round_id": str(round_id), "proposed": len(match_ids), "method": optimal.method},
    )
    return RoundOutcome(record=record, match_ids=match_ids)


def _load_histogram(load: np.ndarray, capacity: np.ndarray) -> dict[str, int]:
    """How many mentors ended with each share of their free slots used."""
    with_slots = capacity > 0
    used = load[with_slots]
    return {
        "mentors_with_slots": int(with_slots.sum()),
        "unused": int((used == 0).sum()),
        "partly_used": int(((used > 0) & (used < capacity[with_slots])).sum()),
        "full": int((used == capacity[with_slots]).sum()),
        "slots_used": int(used.sum()),
        "slots_free": int(capacity[with_slots].sum()),
    }

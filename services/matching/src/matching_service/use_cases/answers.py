"""A proposal is answered: a side accepts or declines it, or nobody answers in time and it
lapses. The rules are the match's own (`Match.accept`, `decline`, `expire`); here they are
applied under the row locks, stored, and followed by the next proposal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from mentorship_shared.contracts.events import MatchParty

from ..match import Match
from .common import Matchmaker, MatchNotFound, end_as_expired, record_change
from .ports import EventSink, MatchingStore
from .proposals import offer_freed_slot, propose_mentor


async def accept_match(
    repo: MatchingStore, events: EventSink, match_id: uuid.UUID, party: MatchParty
) -> Match:
    """One side says yes; when both have, the match is accepted. Saying yes twice is fine."""
    match = await _lock_match_for_answer(repo, match_id)
    accepted, event = match.accept(party, datetime.now(UTC))
    await record_change(repo, events, match, accepted, event)
    return accepted


async def decline_match(
    repo: MatchingStore,
    events: EventSink,
    matchmaker: Matchmaker,
    match_id: uuid.UUID,
    party: MatchParty,
    reason: str | None,
) -> Match:
    """One side says no: the slot is released, the pair never returns, and (online) the
    mentee gets the next best mentor. Declining again is fine."""
    match = await _lock_match_for_answer(repo, match_id)
    declined, event = match.decline(party, reason, datetime.now(UTC))
    if event is None:
        return match
    await record_change(repo, events, match, declined, event)
    await _after_ending(repo, events, matchmaker, match)
    return declined


async def expire_match(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, match_id: uuid.UUID
) -> bool:
    """Let one proposal lapse if it is still unanswered past its time; next proposal."""
    match = await repo.get_match(match_id)
    if match is None:
        return False
    await repo.lock_mentee(match.mentee_id)
    locked = await repo.lock_match(match_id)
    if locked is None or not locked.is_due(datetime.now(UTC)):
        return False
    await end_as_expired(repo, events, locked, "timeout")
    await _after_ending(repo, events, matchmaker, locked)
    return True


async def _after_ending(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, match: Match
) -> None:
    """The mentee waits again (online: the next best mentor now), and the mentor's freed slot
    goes to whoever waits for one."""
    if matchmaker.policy.online:
        await propose_mentor(repo, events, matchmaker, match.mentee_id)
    await offer_freed_slot(repo, events, matchmaker, match.mentor_id)


async def _lock_match_for_answer(repo: MatchingStore, match_id: uuid.UUID) -> Match:
    match = await repo.get_match(match_id)
    if match is None:
        raise MatchNotFound("match_not_found", "No match with this id.")
    await repo.lock_mentee(match.mentee_id)  # mentee first, the order every path keeps
    locked = await repo.lock_match(match_id)
    assert locked is not None  # matches are never deleted
    return locked

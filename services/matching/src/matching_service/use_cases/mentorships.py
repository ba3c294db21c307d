"""After the match: the mentorship service reports that a mentorship ended, and later how it
went. The ending concludes the accepted match (`Match.conclude`), which frees the mentor's slot
for the mentees waiting; the outcome is kept beside the proposal's score for the weights to be
fitted on offline."""

from __future__ import annotations

import logging

from mentorship_shared.contracts.events import MentorshipEnded, MentorshipOutcomeRecorded

from ..match import Match, MatchRefused
from ..outcome import MatchOutcome
from .common import Matchmaker, record_change
from .ports import EventSink, MatchingStore
from .proposals import offer_freed_slot

log = logging.getLogger(__name__)


async def conclude_match(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, ended: MentorshipEnded
) -> Match | None:
    """The mentorship ended: its match concludes, the mentor's slot is freed once, and offered
    to the mentees waiting for one. A match that already ended (its mentor or mentee left, or
    this ending arrived before) changes nothing; neither does a match this matcher never made.

    A mentorship ended by a deleted profile changes nothing either: the deletion reaches the
    matcher itself on profile.events and ends the match there (expired, profile_deleted), so
    the match ends the same way whichever of the two events arrives first."""
    if ended.cause == "profile_deleted":
        return None
    match = await repo.get_match(ended.match_id)
    if match is None:
        log.warning(
            "a mentorship ended for a match this matcher does not know; nothing to free",
            extra={"match_id": str(ended.match_id), "mentorship_id": str(ended.mentorship_id)},
        )
        return None
    await repo.lock_mentee(match.mentee_id)  # mentee first, the order every path keeps
    locked = await repo.lock_match(match.id)
    assert locked is not None  # matches are never deleted
    try:
        concluded, event = locked.conclude(ended.mentorship_id, ended.ending, ended.ended_at)
    except MatchRefused as refused:
        log.info(
            "a mentorship ended for a match that was not accepted any more; nothing to free",
            extra={"match_id": str(match.id), "status": str(locked.status), "code": refused.code},
        )
        return None
    if event is None:
        return concluded
    await record_change(repo, events, locked, concluded, event)
    await offer_freed_slot(repo, events, matchmaker, concluded.mentor_id)
    log.info(
        "mentorship ended: match concluded, slot freed",
        extra={"match_id": str(match.id), "ending": ended.ending},
    )
    return concluded


async def record_outcome(repo: MatchingStore, recorded: MentorshipOutcomeRecorded) -> bool:
    """Keep the outcome of a finished mentorship beside its proposal's score, its parts and
    weights version; once per match. False when there was nothing new to keep."""
    match = await repo.get_match(recorded.match_id)
    if match is None:
        log.warning(
            "an outcome arrived for a match this matcher does not know; not kept",
            extra={"match_id": str(recorded.match_id)},
        )
        return False
    return await repo.add_outcome(MatchOutcome.of(match, recorded))

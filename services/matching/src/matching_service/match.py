"""A match and its lifecycle: proposed, then accepted once both sides said yes, or ended as
declined or expired; an accepted match concludes when its mentorship ends.

This is the one place the lifecycle's rules live. Each change is a method that takes the
moment it happens and returns the changed match with the event to publish, or raises
`MatchRefused` when the match's state does not allow it. Pure: the repository stores what these
return, and the database's constraints (one open match per mentee, the mentor's load within
capacity) stay the last word when several matchers run at once.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from mentorship_shared.contracts.events import (
    ExpiryReason,
    MatchAccepted,
    MatchConcluded,
    MatchDeclined,
    MatchExpired,
    MatchOrigin,
    MatchParty,
    MatchProposed,
    MentorshipEnding,
)
from mentorship_shared.contracts.learning_resources import CURRENT_CATALOGUE_VERSION

from .matcher.learning import gap_resources
from .matcher.ranking import Proposal


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CONCLUDED = "concluded"


#: A match in these statuses is open: it holds one of its mentor's slots, and a mentee has at
#: most one (a unique index says so).
OPEN_STATUSES = (MatchStatus.PROPOSED, MatchStatus.ACCEPTED)

#: Why a match ended: a decline names its side; an expiry its `ExpiryReason`; a conclusion how
#: its mentorship ended.
EndReason = Literal[
    "declined_by_mentee",
    "declined_by_mentor",
    "timeout",
    "profile_deleted",
    "mentor_paused",
    "capacity_lowered",
    "profile_changed",
    "completed",
    "ended_early",
    "lapsed",
]
_DECLINED_BY: dict[MatchParty, EndReason] = {
    "mentee": "declined_by_mentee",
    "mentor": "declined_by_mentor",
}

#: A pair that ended so is never proposed again: someone said no, nobody answered, or the two
#: had their mentorship.
PAIR_CLOSING_STATUSES = (MatchStatus.DECLINED, MatchStatus.CONCLUDED)
PAIR_CLOSING_REASONS: tuple[EndReason, ...] = ("timeout",)


class MatchRefused(Exception):
    """A request the current state does not allow; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Match:
    id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    status: MatchStatus
    score: float
    score_breakdown: dict[str, float]
    explanation: str
    covered_skills: list[str]
    uncovered_skills: list[str]
    algorithm_version: str
    weights_version: str | None
    origin: MatchOrigin
    round_id: uuid.UUID | None
    proposed_at: datetime
    expires_at: datetime | None
    mentee_accepted_at: datetime | None
    mentor_accepted_at: datetime | None
    accepted_at: datetime | None
    ended_at: datetime | None
    end_reason: EndReason | None
    declined_by: MatchParty | None
    decline_reason: str | None

    @classmethod
    def propose(
        cls,
        mentee_id: uuid.UUID,
        proposal: Proposal,
        now: datetime,
        ttl: timedelta,
        *,
        origin: MatchOrigin = "online",
        round_id: uuid.UUID | None = None,
    ) -> tuple[Match, MatchProposed]:
        """A new proposal (its mentor's slot already reserved), open until `now + ttl`. A
        mentee's own request counts as the mentee's yes."""
        match = cls(
            id=uuid.uuid4(),
            mentee_id=mentee_id,
            mentor_id=proposal.mentor_id,
            status=MatchStatus.PROPOSED,
            score=proposal.score,
            score_breakdown=proposal.breakdown,
            explanation=proposal.explanation,
            covered_skills=proposal.covered_skills,
            uncovered_skills=proposal.uncovered_skills,
            algorithm_version=proposal.algorithm_version,
            weights_version=proposal.weights_version,
            origin=origin,
            round_id=round_id,
            proposed_at=now,
            expires_at=now + ttl,
            mentee_accepted_at=now if origin == "request" else None,
            mentor_accepted_at=None,
            accepted_at=None,
            ended_at=None,
            end_reason=None,
            declined_by=None,
            decline_reason=None,
        )
        event = MatchProposed(
            match_id=match.id,
            mentee_id=mentee_id,
            mentor_id=match.mentor_id,
            score=match.score,
            score_breakdown=match.score_breakdown,
            explanation=match.explanation,
            covered_skills=match.covered_skills,
            uncovered_skills=match.uncovered_skills,
            algorithm_version=match.algorithm_version,
            weights_version=match.weights_version,
            origin=origin,
            round_id=round_id,
            accepted_by=match.accepted_by(),
            expires_at=match.expires_at,
            learning_resources=gap_resources(match.uncovered_skills),
            resources_version=CURRENT_CATALOGUE_VERSION,
        )
        return match, event

    # --- questions ----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Proposed or accepted: the match holds its mentor's slot."""
        return self.status in OPEN_STATUSES

    def accepted_by(self) -> list[MatchParty]:
        sides: list[MatchParty] = []
        if self.mentee_accepted_at is not None:
            sides.append("mentee")
        if self.mentor_accepted_at is not None:
            sides.append("mentor")
        return sides

    def awaits(self, party: MatchParty) -> bool:
        """Still a proposal, and this side has not said yes yet."""
        return self.status is MatchStatus.PROPOSED and party not in self.accepted_by()

    @property
    def is_unanswered(self) -> bool:
        """Still a proposal nobody has said yes to: the matcher may yet move it elsewhere."""
        return self.status is MatchStatus.PROPOSED and not self.accepted_by()

    def is_due(self, now: datetime) -> bool:
        """A proposal whose answer time has passed."""
        return (
            self.status is MatchStatus.PROPOSED
            and self.expires_at is not None
            and self.expires_at <= now
        )

    @property
    def closes_pair(self) -> bool:
        """This mentee and mentor are never proposed to each other again."""
        return self.status in PAIR_CLOSING_STATUSES or self.end_reason in PAIR_CLOSING_REASONS

    # --- changes ------------------------------------------------------------------------

    def accept(self, party: MatchParty, now: datetime) -> tuple[Match, MatchAccepted | None]:
        """One side says yes; with both, the match is accepted and `MatchAccepted` is the event
        (None before that). Saying yes again, or to an accepted match, changes nothing."""
        if self.status is MatchStatus.ACCEPTED:
            return self, None
        if self.status is not MatchStatus.PROPOSED:
            raise MatchRefused(
                "match_closed", f"This match was {self.status}; it can no longer be accepted."
            )
        if party in self.accepted_by():
            return self, None
        answered = (
            dataclasses.replace(self, mentee_accepted_at=now)
            if party == "mentee"
            else dataclasses.replace(self, mentor_accepted_at=now)
        )
        if len(answered.accepted_by()) < 2:
            return answered, None
        accepted = dataclasses.replace(answered, status=MatchStatus.ACCEPTED, accepted_at=now)
        return accepted, MatchAccepted(
            match_id=self.id, mentee_id=self.mentee_id, mentor_id=self.mentor_id, accepted_at=now
        )

    def decline(
        self, party: MatchParty, reason: str | None, now: datetime
    ) -> tuple[Match, MatchDeclined | None]:
        """One side says no to a proposal: it ends, and its mentor's slot is free again.
        Declining again changes nothing (no event)."""
        if self.status is MatchStatus.DECLINED:
            return self, None
        if self.status is not MatchStatus.PROPOSED:
            raise MatchRefused(
                "match_closed",
                f"This match was {self.status}; only a proposal that is still open can be "
                "declined.",
            )
        declined = dataclasses.replace(
            self,
            status=MatchStatus.DECLINED,
            ended_at=now,
            end_reason=_DECLINED_BY[party],
            declined_by=party,
            decline_reason=reason,
        )
        return declined, MatchDeclined(
            match_id=self.id,
            mentee_id=self.mentee_id,
            mentor_id=self.mentor_id,
            declined_by=party,
            reason=reason,
        )

    def expire(self, reason: ExpiryReason, now: datetime) -> tuple[Match, MatchExpired]:
        """An open match ends without a decline (`reason` says why); its slot is free again."""
        if not self.is_open:
            raise MatchRefused("match_closed", f"This match was {self.status} already.")
        expired = dataclasses.replace(
            self, status=MatchStatus.EXPIRED, ended_at=now, end_reason=reason
        )
        return expired, MatchExpired(
            match_id=self.id, mentee_id=self.mentee_id, mentor_id=self.mentor_id, reason=reason
        )

    def conclude(
        self, mentorship_id: uuid.UUID, ending: MentorshipEnding, now: datetime
    ) -> tuple[Match, MatchConcluded | None]:
        """The mentorship of an accepted match ended (`ending` says how): the match is over and
        its slot is free again. Concluding again changes nothing (no event); a match that was
        never accepted, or ended before, has no mentorship to conclude."""
        if self.status is MatchStatus.CONCLUDED:
            return self, None
        if self.status is not MatchStatus.ACCEPTED:
            raise MatchRefused(
                "match_not_accepted",
                f"This match was {self.status}; only an accepted match has a mentorship to end.",
            )
        concluded = dataclasses.replace(
            self, status=MatchStatus.CONCLUDED, ended_at=now, end_reason=ending
        )
        return concluded, MatchConcluded(
            match_id=self.id,
            mentee_id=self.mentee_id,
            mentor_id=self.mentor_id,
            mentorship_id=mentorship_id,
            ending=ending,
            concluded_at=now,
        )

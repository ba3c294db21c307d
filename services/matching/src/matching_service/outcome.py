"""The outcome of a finished mentorship, beside what the matcher knew when it proposed the pair.

The mentorship service reports how a mentorship went (`MentorshipOutcomeRecorded`); the matcher
keeps that next to the proposal's score, its parts and the weights version it was scored with.
The weights are fitted offline on these records (`matching_service.weights`), never silently in
production. Pure: values in, values out.
"""

from __future__ import annotations

import uuid

from mentorship_shared.contracts.events import MentorshipEnding, MentorshipOutcomeRecorded
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .match import Match


class MatchOutcome(BaseModel):
    """One finished mentorship: how it went, and how its pair was scored when proposed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match_id: uuid.UUID = Field(description="The accepted match the mentorship grew from.")
    mentorship_id: uuid.UUID = Field(description="Id of the mentorship.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the mentor.")
    ending: MentorshipEnding = Field(description="'completed', 'ended_early' or 'lapsed'.")
    completed: bool = Field(description="True when the mentorship was completed.")
    mentee_csat: int | None = Field(
        default=None, ge=1, le=5, description="The mentee's satisfaction, 1 to 5, if given."
    )
    mentor_csat: int | None = Field(
        default=None, ge=1, le=5, description="The mentor's satisfaction, 1 to 5, if given."
    )
    mentee_nps: int | None = Field(
        default=None, ge=0, le=10, description="The mentee's likelihood to recommend, 0 to 10."
    )
    mentor_nps: int | None = Field(
        default=None, ge=0, le=10, description="The mentor's likelihood to recommend, 0 to 10."
    )
    gap_closed: float | None = Field(
        default=None, ge=0, le=1, description="Share of all gap levels closed, 0 to 1."
    )
    gap_closed_by_skill: dict[str, float] = Field(
        default_factory=dict, description="Share of each gap closed, by skill id, 0 to 1."
    )
    check_ins: int = Field(default=0, ge=0, description="Check-ins logged.")
    started_at: AwareDatetime = Field(description="When the mentorship started.")
    ended_at: AwareDatetime = Field(description="When it ended.")
    score: float = Field(ge=0, le=1, description="The proposal's score.")
    score_breakdown: dict[str, float] = Field(description="The proposal's score parts, 0 to 1.")
    algorithm_version: str = Field(description="Scoring algorithm of the proposal.")
    weights_version: str | None = Field(description="Scoring weights of the proposal.")
    origin: str = Field(description="How the proposal came about: online, request or round.")
    proposed_at: AwareDatetime = Field(description="When the pair was proposed.")

    @classmethod
    def of(cls, match: Match, recorded: MentorshipOutcomeRecorded) -> MatchOutcome:
        """The outcome the mentorship service recorded, beside the match's proposal."""
        mentee, mentor = recorded.mentee_feedback, recorded.mentor_feedback
        return cls(
            match_id=match.id,
            mentorship_id=recorded.mentorship_id,
            mentee_id=match.mentee_id,
            mentor_id=match.mentor_id,
            ending=recorded.ending,
            completed=recorded.completed,
            mentee_csat=mentee.csat if mentee else None,
            mentor_csat=mentor.csat if mentor else None,
            mentee_nps=mentee.nps if mentee else None,
            mentor_nps=mentor.nps if mentor else None,
            gap_closed=recorded.gap_closed_overall,
            gap_closed_by_skill={s.skill: s.gap_closed for s in recorded.skills},
            check_ins=recorded.check_ins,
            started_at=recorded.started_at,
            ended_at=recorded.ended_at,
            score=match.score,
            score_breakdown=match.score_breakdown,
            algorithm_version=match.algorithm_version,
            weights_version=match.weights_version,
            origin=match.origin,
            proposed_at=match.proposed_at,
        )

"""HTTP routes of the matching service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from mentorship_shared.plumbing.http import ApiError, ErrorBody
from mentorship_shared.plumbing.runtime import PoolDep
from pydantic import BaseModel, Field

from .repository import MatchingRepository

router = APIRouter(prefix="/v1")

MatchStatus = Literal["proposed", "accepted", "declined", "expired"]


class MatchView(BaseModel):
    id: uuid.UUID = Field(description="Match id.")
    mentor_id: uuid.UUID = Field(description="Profile id of the proposed mentor.")
    score: float = Field(ge=0, le=1, description="Match score, 0 to 1.")
    status: MatchStatus = Field(description="proposed, accepted, declined or expired.")
    explanation: str = Field(description="Why this mentor, in plain words.")
    score_breakdown: dict[str, float] = Field(description="The parts of the score.")
    covered_skills: list[str] = Field(description="Gap skills the mentor covers.")
    uncovered_skills: list[str] = Field(description="Gap skills the mentor does not cover.")
    algorithm_version: str = Field(description="Scoring algorithm and weights version.")
    proposed_at: datetime = Field(description="When the match was proposed.")
    expires_at: datetime | None = Field(description="When an unanswered proposal lapses.")
    ended_at: datetime | None = Field(description="When the match ended, if it has.")
    end_reason: str | None = Field(description="Why it ended, such as 'profile_deleted'.")


class MatchList(BaseModel):
    matches: list[MatchView] = Field(description="The mentee's matches, newest first.")


class MentorSlots(BaseModel):
    id: uuid.UUID = Field(description="Profile id of the mentor.")
    capacity: int = Field(description="How many mentees the mentor takes at once.")
    open_matches: int = Field(description="Proposed or accepted matches holding a slot.")
    free_slots: int = Field(description="Slots left for new proposals.")
    accepting_mentees: bool = Field(description="False while the mentor has paused.")


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "The matcher does not know this profile (yet)."}
}


@router.get(
    "/mentors/{mentor_id}",
    tags=["mentors"],
    summary="A mentor's capacity and open matches",
    responses=_NOT_FOUND,
)
async def get_mentor_slots(mentor_id: uuid.UUID, pool: PoolDep) -> MentorSlots:
    async with pool.acquire() as conn:
        mentor = await MatchingRepository(conn).mentor_load(mentor_id)
    if mentor is None:
        raise ApiError(
            404,
            "not_found",
            "The matcher does not know this mentor. A new registration reaches it within "
            "seconds; check the id if this persists.",
        )
    return MentorSlots(
        id=mentor.id,
        capacity=mentor.capacity,
        open_matches=mentor.load,
        free_slots=max(0, mentor.capacity - mentor.load) if mentor.accepting_mentees else 0,
        accepting_mentees=mentor.accepting_mentees,
    )


@router.get(
    "/mentees/{mentee_id}/matches",
    tags=["matches"],
    summary="A mentee's matches, newest first",
    responses=_NOT_FOUND,
)
async def list_matches(
    mentee_id: uuid.UUID,
    pool: PoolDep,
    limit: int = Query(default=20, ge=1, le=100, description="Most matches to return."),
) -> MatchList:
    async with pool.acquire() as conn:
        repo = MatchingRepository(conn)
        matches = await repo.matches_for_mentee(mentee_id, limit)
        if not matches and not await repo.mentee_exists(mentee_id):
            raise ApiError(
                404,
                "not_found",
                "The matcher does not know this mentee. A new registration reaches it within "
                "seconds; check the id if this persists.",
            )
    return MatchList(
        matches=[
            MatchView(
                id=m.id,
                mentor_id=m.mentor_id,
                score=m.score,
                status=m.status,
                explanation=m.explanation,
                score_breakdown=m.score_breakdown,
                covered_skills=m.covered_skills,
                uncovered_skills=m.uncovered_skills,
                algorithm_version=m.algorithm_version,
                proposed_at=m.proposed_at,
                expires_at=m.expires_at,
                ended_at=m.ended_at,
                end_reason=m.end_reason,
            )
            for m in matches
        ]
    )

"""HTTP routes of the matching service: each turns a request into one use-case call."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from mentorship_shared.contracts.events import MatchOrigin, MatchParty
from mentorship_shared.plumbing.auth import caller_of
from mentorship_shared.plumbing.deps import OperatorDep, ServiceDeps
from mentorship_shared.plumbing.http import ApiError, ErrorBody
from mentorship_shared.plumbing.outbox import EventSink
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork
from pydantic import BaseModel, ConfigDict, Field

from .config import MatchingSettings
from .match import Match, MatchRefused, MatchStatus
from .matcher.ranking import Proposal
from .matcher.scoring import ALGORITHM_VERSION
from .repository import MatchingRepository, RoundRecord
from .use_cases import answers, plans, rounds, shortlists
from .use_cases.common import UNKNOWN_MENTEE, Matchmaker, MatchNotFound

router = APIRouter(prefix="/v1")

deps = ServiceDeps[MatchingSettings, MatchingRepository]()
SettingsDep = Annotated[MatchingSettings, Depends(deps.settings)]
UowDep = Annotated[UnitOfWork[MatchingRepository], Depends(deps.uow)]


def serve_with(app: FastAPI, matchmaker: Matchmaker) -> None:
    """Hand these routes the service's matchmaker (built once, in `create_app`)."""
    app.state.matchmaker = matchmaker


async def _matchmaker(request: Request) -> Matchmaker:
    matchmaker: Matchmaker = request.app.state.matchmaker
    return matchmaker


MatchmakerDep = Annotated[Matchmaker, Depends(_matchmaker)]

T = TypeVar("T")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MatchView(BaseModel):
    id: uuid.UUID = Field(description="Match id.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the proposed mentor.")
    score: float = Field(ge=0, le=1, description="Match score, 0 to 1.")
    status: MatchStatus = Field(
        description="proposed, accepted, declined, expired, or concluded (its mentorship ended)."
    )
    explanation: str = Field(description="Why this mentor, in plain words.")
    score_breakdown: dict[str, float] = Field(description="The parts of the score, 0 to 1 each.")
    covered_skills: list[str] = Field(description="Gap skills the mentor covers.")
    uncovered_skills: list[str] = Field(description="Gap skills the mentor does not cover.")
    algorithm_version: str = Field(description="Scoring algorithm version.")
    weights_version: str | None = Field(description="Scoring weights version.")
    origin: MatchOrigin = Field(
        description="How the proposal came about: online, the mentee's request, or a round."
    )
    accepted_by: list[MatchParty] = Field(description="Sides that have accepted so far.")
    proposed_at: datetime = Field(description="When the match was proposed.")
    expires_at: datetime | None = Field(description="When an unanswered proposal lapses.")
    accepted_at: datetime | None = Field(description="When both sides had accepted.")
    ended_at: datetime | None = Field(description="When the match ended, if it has.")
    end_reason: str | None = Field(
        description="Why it ended: declined_by_mentee, declined_by_mentor, timeout, "
        "profile_deleted, mentor_paused, capacity_lowered or profile_changed; a concluded "
        "match: how its mentorship ended (completed, ended_early or lapsed)."
    )


class MatchList(BaseModel):
    matches: list[MatchView] = Field(description="The mentee's or mentor's matches, newest first.")


class MentorSlots(BaseModel):
    id: uuid.UUID = Field(description="Profile id of the mentor.")
    capacity: int = Field(description="How many mentees the mentor asked to take at once.")
    open_matches: int = Field(description="Proposed or accepted matches holding a slot.")
    free_slots: int = Field(description="Slots left for new proposals.")
    accepting_mentees: bool = Field(description="False while the mentor has paused.")


class Suggestion(BaseModel):
    mentor_id: uuid.UUID = Field(description="Profile id of the suggested mentor.")
    score: float = Field(ge=0, le=1, description="Match score, 0 to 1.")
    score_breakdown: dict[str, float] = Field(description="The parts of the score, 0 to 1 each.")
    explanation: str = Field(description="Why this mentor, in plain words.")
    covered_skills: list[str] = Field(description="Gap skills the mentor covers.")
    uncovered_skills: list[str] = Field(description="Gap skills the mentor does not cover.")


class SuggestionList(BaseModel):
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    algorithm_version: str = Field(description="Scoring algorithm version.")
    weights_version: str = Field(description="Scoring weights version.")
    suggestions: list[Suggestion] = Field(description="Available mentors, best first.")


class MentorRequest(_Body):
    mentor_id: uuid.UUID = Field(description="The mentor picked from the suggestions.")


class Acceptance(_Body):
    party: MatchParty | None = Field(
        default=None,
        description="Your side, 'mentee' or 'mentor'; taken from your token, so only the "
        "operator must send it.",
    )


class Decline(_Body):
    party: MatchParty | None = Field(
        default=None,
        description="Your side, 'mentee' or 'mentor'; taken from your token, so only the "
        "operator must send it.",
    )
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Optional reason. A mentor's reason is passed on to the mentee.",
    )


class ResourceView(BaseModel):
    id: str = Field(description="Resource id in the learning-resource catalogue.")
    kind: str = Field(description="'practice', 'course' or 'book'.")
    title: str = Field(description="Title of the work, or a short name of the practice.")
    by: str | None = Field(description="Authors or provider; null for a practice.")
    summary: str = Field(description="What it is and why it helps.")


class PlannedGapView(BaseModel):
    skill: str = Field(description="Skill id of the gap.")
    current: int = Field(ge=0, le=5, description="The mentee's current level, 0 to 5.")
    target: int = Field(ge=0, le=5, description="The level the mentee needs, 0 to 5.")
    covered_by_mentor: bool = Field(
        description="The mentor of the mentee's proposed or accepted match is at or above target."
    )
    resources: list[ResourceView] = Field(
        description="For a gap the mentor does not cover: one to three resources, something to "
        "do at work first, then a course and a book. Empty for a covered gap."
    )


class IssuedPlanView(BaseModel):
    version: int = Field(description="Version of the plan last mailed to the mentee.")
    resources_version: int = Field(description="Catalogue version of that plan.")
    issued_at: datetime = Field(description="When it was issued.")


class LearningPlanView(BaseModel):
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    match_id: uuid.UUID | None = Field(
        description="The mentee's proposed or accepted match, if any: its mentor's gaps count "
        "as covered."
    )
    match_status: MatchStatus | None = Field(description="That match's status.")
    mentor_id: uuid.UUID | None = Field(description="That match's mentor.")
    resources_version: int = Field(description="Version of the learning-resource catalogue.")
    gaps: list[PlannedGapView] = Field(
        description="Every gap of the mentee, the one that matters most for their target first."
    )
    last_issued: IssuedPlanView | None = Field(
        description="The plan last mailed because no mentor suited the mentee, if any."
    )


class RoundView(BaseModel):
    id: uuid.UUID = Field(description="Round id.")
    started_at: datetime = Field(description="When the round started.")
    finished_at: datetime | None = Field(description="When it finished.")
    method: str = Field(description="Solver used: 'dense' or 'sparse' (optimal assignment).")
    mentees_waiting: int = Field(description="Mentees without an open match at the start.")
    mentors_with_slots: int = Field(description="Mentors accepting mentees with a free slot.")
    proposed: int = Field(description="Proposals the round made.")
    total_score: float = Field(description="Sum of the scores of the round's assignment.")
    greedy_matched: int = Field(
        description="Mentees a first-come greedy assignment of the same cohort would match."
    )
    greedy_total_score: float = Field(description="Sum of the scores of that greedy assignment.")
    mentor_load: dict[str, Any] = Field(
        description="Slots used per mentor, for the round's assignment and for greedy."
    )


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "The matcher does not know this id (yet)."}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The match or mentor is not in a state to do this."}
}
_OPERATOR: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    403: {"model": ErrorBody, "description": "Not the operator key, or none is configured."},
}


_OWNER: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    404: {
        "model": ErrorBody,
        "description": "Unknown id, or the token is not its owner's (nobody learns which).",
    },
}


async def _authorize(
    settings: MatchingSettings,
    uow: UnitOfWork[MatchingRepository],
    request: Request,
    profile_id: uuid.UUID,
) -> None:
    """The profile owner's token, a session credential signed for the profile, or the
    operator key; anyone else gets a 404."""
    who = caller_of(request, settings.session_public_key)
    if who.is_operator(settings.operator_api_key):
        return
    credential = None
    if not who.has_session:
        async with uow.reading() as repo:
            credential = await repo.credential(profile_id)
    if not who.acts_for(profile_id, credential):
        raise ApiError(
            404,
            "not_found",
            "The matcher does not know this profile, or the token does not belong to it. A new "
            "registration reaches the matcher within seconds.",
        )


async def _mentee_owner(
    mentee_id: uuid.UUID, settings: SettingsDep, uow: UowDep, request: Request
) -> uuid.UUID:
    await _authorize(settings, uow, request, mentee_id)
    return mentee_id


async def _mentor_owner(
    mentor_id: uuid.UUID, settings: SettingsDep, uow: UowDep, request: Request
) -> uuid.UUID:
    await _authorize(settings, uow, request, mentor_id)
    return mentor_id


async def _match_party(
    match_id: uuid.UUID, settings: SettingsDep, uow: UowDep, request: Request
) -> MatchParty | None:
    """Which side of the match the caller is (None for the operator); 404 for anyone else."""
    who = caller_of(request, settings.session_public_key)
    if who.is_operator(settings.operator_api_key):
        return None
    async with uow.reading() as repo:
        match = await repo.get_match(match_id)
        if match is not None:
            sides: tuple[tuple[MatchParty, uuid.UUID], ...] = (
                ("mentee", match.mentee_id),
                ("mentor", match.mentor_id),
            )
            for side, profile_id in sides:
                credential = None if who.has_session else await repo.credential(profile_id)
                if who.acts_for(profile_id, credential):
                    return side
    raise ApiError(404, "match_not_found", "No match with this id, or it is not yours.")


MenteeId = Annotated[uuid.UUID, Depends(_mentee_owner)]
MentorId = Annotated[uuid.UUID, Depends(_mentor_owner)]
CallerParty = Annotated[MatchParty | None, Depends(_match_party)]


def _answering_party(caller: MatchParty | None, stated: MatchParty | None) -> MatchParty:
    """The caller's own side; the operator says which side they answer for."""
    if caller is None:
        if stated is None:
            raise ApiError(
                422,
                "invalid_request",
                "The operator answers for one side: give 'party' ('mentee' or 'mentor').",
                field="party",
            )
        return stated
    if stated is not None and stated != caller:
        raise ApiError(
            422,
            "invalid_request",
            f"You are the {caller} of this match; leave 'party' out or send '{caller}'.",
            field="party",
        )
    return caller


async def _run(
    uow: UnitOfWork[MatchingRepository],
    action: Callable[[MatchingRepository, EventSink], Awaitable[T]],
) -> T:
    """One use case in one transaction (retried on a deadlock), refusals mapped to HTTP."""

    async def work(tx: Transaction[MatchingRepository]) -> T:
        return await action(tx.repo, tx.outbox)

    try:
        return await uow.run(work)
    except MatchNotFound as refusal:
        raise ApiError(404, refusal.code, refusal.message) from refusal
    except MatchRefused as refusal:
        raise ApiError(409, refusal.code, refusal.message) from refusal


@router.get(
    "/mentors/{mentor_id}",
    tags=["mentors"],
    summary="A mentor's capacity and open matches",
    responses=_OWNER,
)
async def get_mentor_slots(mentor_id: MentorId, uow: UowDep) -> MentorSlots:
    async with uow.reading() as repo:
        mentor = await repo.mentor_load(mentor_id)
    if mentor is None:
        raise ApiError(
            404,
            "not_found",
            "The matcher does not know this mentor. A new registration reaches it within "
            "seconds; check the id if this persists.",
        )
    return MentorSlots(
        id=mentor.id,
        capacity=mentor.requested_capacity,
        open_matches=mentor.load,
        free_slots=mentor.free_slots,
        accepting_mentees=mentor.accepting_mentees,
    )


@router.get(
    "/mentees/{mentee_id}/matches",
    tags=["matches"],
    summary="A mentee's matches, newest first",
    responses=_OWNER,
)
async def list_matches(
    mentee_id: MenteeId,
    uow: UowDep,
    limit: int = Query(
        default=20,
        ge=1,
        description="Most matches to return: at most 100, a larger value gives 100.",
    ),
) -> MatchList:
    async with uow.reading() as repo:
        matches = await repo.matches_for_mentee(mentee_id, min(limit, 100))
        if not matches and not await repo.mentee_exists(mentee_id):
            raise ApiError(404, "mentee_not_found", UNKNOWN_MENTEE)
    return MatchList(matches=[_match_view(m) for m in matches])


@router.get(
    "/mentors/{mentor_id}/matches",
    tags=["matches"],
    summary="A mentor's matches, newest first",
    description="Every proposal made to the mentor, to accept or decline, and how it ended.",
    responses=_OWNER,
)
async def list_mentor_matches(
    mentor_id: MentorId,
    uow: UowDep,
    limit: int = Query(
        default=20,
        ge=1,
        description="Most matches to return: at most 100, a larger value gives 100.",
    ),
) -> MatchList:
    async with uow.reading() as repo:
        matches = await repo.matches_for_mentor(mentor_id, min(limit, 100))
        if not matches and await repo.mentor_load(mentor_id) is None:
            raise ApiError(
                404,
                "mentor_not_found",
                "The matcher does not know this mentor. A new registration reaches it within "
                "seconds.",
            )
    return MatchList(matches=[_match_view(m) for m in matches])


@router.get(
    "/mentees/{mentee_id}/suggestions",
    tags=["matches"],
    summary="The mentee's best available mentors, with explanations",
    description=(
        "Mentors with a free slot who meet every hard constraint, best first. A mentor already "
        "on many other shortlists for their free slots is left to those mentees, so one star "
        "mentor does not top every list."
    ),
    responses=_OWNER,
)
async def suggest_mentors(
    mentee_id: MenteeId,
    uow: UowDep,
    matchmaker: MatchmakerDep,
    limit: int = Query(
        default=5,
        ge=1,
        description="Most suggestions to return: at most 20, a larger value gives 20.",
    ),
) -> SuggestionList:
    proposals = await _run(
        uow, lambda repo, _: shortlists.suggest_mentors(repo, matchmaker, mentee_id, min(limit, 20))
    )
    return SuggestionList(
        mentee_id=mentee_id,
        algorithm_version=proposals[0].algorithm_version if proposals else ALGORITHM_VERSION,
        weights_version=matchmaker.policy.config.version,
        suggestions=[_suggestion(p) for p in proposals],
    )


@router.get(
    "/mentees/{mentee_id}/plan",
    tags=["matches"],
    summary="The mentee's learning plan: the gaps, who covers them, and resources for the rest",
    description=(
        "Every gap of the mentee with the current and target level. Gaps the mentor of the "
        "mentee's proposed or accepted match covers are marked so; every other gap comes with "
        "a practice, a course and a book from the learning-resource catalogue."
    ),
    responses=_OWNER,
)
async def get_learning_plan(
    mentee_id: MenteeId, uow: UowDep, matchmaker: MatchmakerDep
) -> LearningPlanView:
    try:
        async with uow.reading() as repo:
            plan = await plans.plan_of(repo, matchmaker, mentee_id)
    except MatchNotFound as refusal:
        raise ApiError(404, refusal.code, refusal.message) from refusal
    return _plan_view(plan)


@router.post(
    "/mentees/{mentee_id}/requests",
    tags=["matches"],
    summary="Ask a mentor from the suggestions",
    description=(
        "Proposes the picked mentor, already accepted by the mentee, and reserves one of the "
        "mentor's slots; the mentor accepts or declines. A pending proposal to another mentor "
        "is declined on the mentee's behalf."
    ),
    status_code=201,
    responses={**_OWNER, **_CONFLICT},
)
async def request_mentor(
    mentee_id: MenteeId,
    body: MentorRequest,
    uow: UowDep,
    matchmaker: MatchmakerDep,
    response: Response,
) -> MatchView:
    match = await _run(
        uow,
        lambda repo, outbox: shortlists.request_mentor(
            repo, outbox, matchmaker, mentee_id, body.mentor_id
        ),
    )
    response.headers["Location"] = f"/v1/matches/{match.id}"
    return _match_view(match)


@router.get(
    "/matches/{match_id}",
    tags=["matches"],
    summary="One match (its mentee, its mentor or the operator)",
    responses=_OWNER,
)
async def get_match(match_id: uuid.UUID, _: CallerParty, uow: UowDep) -> MatchView:
    async with uow.reading() as repo:
        match = await repo.get_match(match_id)
    if match is None:
        raise ApiError(404, "match_not_found", "No match with this id.")
    return _match_view(match)


@router.post(
    "/matches/{match_id}/accept",
    tags=["matches"],
    summary="Accept a proposal (mentee or mentor)",
    description="Once both sides have accepted, the match is accepted and both are told.",
    responses={**_OWNER, **_CONFLICT},
)
async def accept_match(
    match_id: uuid.UUID, body: Acceptance, caller: CallerParty, uow: UowDep
) -> MatchView:
    party = _answering_party(caller, body.party)
    match = await _run(
        uow, lambda repo, outbox: answers.accept_match(repo, outbox, match_id, party)
    )
    return _match_view(match)


@router.post(
    "/matches/{match_id}/decline",
    tags=["matches"],
    summary="Decline a proposal (mentee or mentor)",
    description=(
        "Releases the mentor's slot; the pair is never proposed again and the mentee gets the "
        "next best mentor."
    ),
    responses={**_OWNER, **_CONFLICT},
)
async def decline_match(
    match_id: uuid.UUID,
    body: Decline,
    caller: CallerParty,
    uow: UowDep,
    matchmaker: MatchmakerDep,
) -> MatchView:
    party = _answering_party(caller, body.party)
    match = await _run(
        uow,
        lambda repo, outbox: answers.decline_match(
            repo, outbox, matchmaker, match_id, party, body.reason or None
        ),
    )
    return _match_view(match)


@router.post(
    "/rounds",
    tags=["rounds"],
    summary="Run a cohort round (operator)",
    description=(
        "Assigns every waiting mentee at once, maximising the total score within every "
        "mentor's free slots, publishes the proposals, and reports the result against a "
        "first-come greedy assignment of the same cohort."
    ),
    status_code=201,
    responses=_OPERATOR,
)
async def run_round(
    _: OperatorDep, uow: UowDep, matchmaker: MatchmakerDep, response: Response
) -> RoundView:
    outcome = await _run(uow, lambda repo, outbox: rounds.run_round(repo, outbox, matchmaker))
    response.headers["Location"] = f"/v1/rounds/{outcome.record.id}"
    return _round_view(outcome.record)


@router.get(
    "/rounds/{round_id}",
    tags=["rounds"],
    summary="A cohort round's report (operator)",
    responses={**_OPERATOR, **_NOT_FOUND},
)
async def get_round(round_id: uuid.UUID, _: OperatorDep, uow: UowDep) -> RoundView:
    async with uow.reading() as repo:
        record = await repo.get_round(round_id)
    if record is None:
        raise ApiError(404, "round_not_found", "No round with this id.")
    return _round_view(record)


def _match_view(m: Match) -> MatchView:
    return MatchView(
        id=m.id,
        mentee_id=m.mentee_id,
        mentor_id=m.mentor_id,
        score=m.score,
        status=m.status,
        explanation=m.explanation,
        score_breakdown=m.score_breakdown,
        covered_skills=m.covered_skills,
        uncovered_skills=m.uncovered_skills,
        algorithm_version=m.algorithm_version,
        weights_version=m.weights_version,
        origin=m.origin,
        accepted_by=m.accepted_by(),
        proposed_at=m.proposed_at,
        expires_at=m.expires_at,
        accepted_at=m.accepted_at,
        ended_at=m.ended_at,
        end_reason=m.end_reason,
    )


def _suggestion(p: Proposal) -> Suggestion:
    return Suggestion(
        mentor_id=p.mentor_id,
        score=p.score,
        score_breakdown=p.breakdown,
        explanation=p.explanation,
        covered_skills=p.covered_skills,
        uncovered_skills=p.uncovered_skills,
    )


def _plan_view(plan: plans.MenteePlan) -> LearningPlanView:
    match = plan.match
    return LearningPlanView(
        mentee_id=plan.mentee_id,
        match_id=match.id if match else None,
        match_status=match.status if match else None,
        mentor_id=match.mentor_id if match else None,
        resources_version=plan.resources_version,
        gaps=[
            PlannedGapView(
                skill=gap.skill,
                current=gap.current,
                target=gap.target,
                covered_by_mentor=gap.covered_by_mentor,
                resources=[ResourceView(**r.model_dump(exclude={"skills"})) for r in gap.resources],
            )
            for gap in plan.gaps
        ],
        last_issued=IssuedPlanView(**plan.last_issued.__dict__) if plan.last_issued else None,
    )


def _round_view(r: RoundRecord) -> RoundView:
    return RoundView(**r.__dict__)

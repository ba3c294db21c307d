"""HTTP routes of the mentorship service: each turns a request into one use-case call.

Only the two people of a mentorship (their owner tokens, or the session credentials the profile
service signs when they sign in through the web pages) and operators (the operator key) see it;
anyone else gets a 404 and learns nothing. Operators read; changes are the two people's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from mentorship_shared.plumbing.auth import caller_of
from mentorship_shared.plumbing.deps import OperatorDep, ServiceDeps
from mentorship_shared.plumbing.http import ApiError, ErrorBody
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork

from . import domain, use_cases
from .config import MentorshipSettings
from .domain import Mentorship, Party, Refused
from .repository import MentorshipRepository
from .schemas import (
    AnswerView,
    CadenceChange,
    CheckInView,
    EarlyEnding,
    GoalView,
    MentorshipList,
    MentorshipSummary,
    MentorshipView,
    MilestoneDone,
    MilestoneView,
    NewCheckIn,
    NewGoal,
    NewMilestoneBody,
    PeriodView,
    ProgramReport,
    ProgressView,
    Reassessment,
    SurveyAnswer,
)
from .use_cases import Clock

router = APIRouter(prefix="/v1")

deps = ServiceDeps[MentorshipSettings, MentorshipRepository]()
SettingsDep = Annotated[MentorshipSettings, Depends(deps.settings)]
UowDep = Annotated[UnitOfWork[MentorshipRepository], Depends(deps.uow)]
Tx = Transaction[MentorshipRepository]


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(_clock)]

_NOT_YOURS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    404: {
        "model": ErrorBody,
        "description": "No such mentorship, or the token is not one of its two people's.",
    },
}
_CHANGE: dict[int | str, dict[str, Any]] = {
    **_NOT_YOURS,
    403: {
        "model": ErrorBody,
        "description": (
            "Not this side's to do (the mentor proposing a goal, say), or the operator key: "
            "operators read mentorships, the two people change them."
        ),
    },
    409: {
        "model": ErrorBody,
        "description": (
            "Not in the mentorship's current state (it ended, the survey is not open, five "
            "goals already, ...); `error` and `message` say which. Nothing changed."
        ),
    },
}
_STATUS_OF_REFUSAL = {"invalid": 422, "forbidden": 403, "not_found": 404, "conflict": 409}


@dataclass(frozen=True)
class Viewer:
    mentorship_id: uuid.UUID
    #: The caller's side; None for an operator.
    side: Party | None


async def _viewer(
    mentorship_id: uuid.UUID, request: Request, uow: UowDep, settings: SettingsDep
) -> Viewer:
    """One of the two people (by their owner token or session credential) or an operator;
    anyone else gets a 404."""
    who = caller_of(request, settings.session_public_key)
    async with uow.reading() as repo:
        access = await repo.access(mentorship_id)
    if access is not None:
        if who.is_operator(settings.operator_api_key):
            return Viewer(mentorship_id, None)
        if who.acts_for(access.mentee_id, access.mentee_credential):
            return Viewer(mentorship_id, "mentee")
        if who.acts_for(access.mentor_id, access.mentor_credential):
            return Viewer(mentorship_id, "mentor")
    raise ApiError(
        404,
        "not_found",
        "No such mentorship, or the token is not one of its two people's. A new mentorship "
        "reaches this service within seconds of the match being accepted.",
    )


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def _side(viewer: Viewer) -> Party:
    if viewer.side is None:
        raise ApiError(
            403,
            "operators_read_only",
            "Operators read mentorships; changes are made by the mentee or the mentor.",
        )
    return viewer.side


async def _change(
    uow: UnitOfWork[MentorshipRepository],
    viewer: Viewer,
    work: Callable[[Tx], Awaitable[Mentorship]],
) -> MentorshipView:
    """One use case in one transaction (run again on a conflict); refusals become 4xx and
    change nothing. Answers with the mentorship as it is afterwards."""
    try:
        mentorship = await uow.run(work)
    except Refused as refused:
        raise ApiError(
            _STATUS_OF_REFUSAL[refused.kind],
            "invalid_request" if refused.kind == "invalid" else refused.code,
            refused.message,
            field=refused.field,
        ) from refused
    except use_cases.MentorshipNotFound as error:
        raise ApiError(404, "not_found", "No such mentorship.") from error
    async with uow.reading() as repo:
        return await _view(repo, mentorship, viewer.side)


async def _decide(
    uow: UnitOfWork[MentorshipRepository],
    viewer: Viewer,
    policy: domain.MentorshipPolicy,
    decide: Callable[[Mentorship, Party], domain.Decision],
) -> MentorshipView:
    """A change that is one domain decision on behalf of the caller's side."""
    by = _side(viewer)
    return await _change(
        uow,
        viewer,
        lambda tx: use_cases.change(
            tx.repo, tx.outbox, viewer.mentorship_id, lambda m: decide(m, by), policy
        ),
    )


# --- reading -------------------------------------------------------------------------------


@router.get(
    "/mentorships/{mentorship_id}",
    tags=["mentorships"],
    summary="A mentorship: goals, schedule, check-ins, surveys and progress",
    responses=_NOT_YOURS,
)
async def get_mentorship(viewer: ViewerDep, uow: UowDep) -> MentorshipView:
    async with uow.reading() as repo:
        mentorship = await repo.get(viewer.mentorship_id)
        if mentorship is None:
            raise ApiError(404, "not_found", "No such mentorship.")
        return await _view(repo, mentorship, viewer.side)


@router.get(
    "/people/{profile_id}/mentorships",
    tags=["mentorships"],
    summary="A person's mentorships, newest first",
    responses={
        401: {"model": ErrorBody, "description": "No bearer token."},
        404: {
            "model": ErrorBody,
            "description": "Unknown person, or the token is not theirs (nobody learns which).",
        },
    },
)
async def list_mentorships(
    profile_id: uuid.UUID, request: Request, uow: UowDep, settings: SettingsDep
) -> MentorshipList:
    who = caller_of(request, settings.session_public_key)
    async with uow.reading() as repo:
        credential = None if who.has_session else await repo.credential(profile_id)
        if not who.is_operator(settings.operator_api_key) and not who.acts_for(
            profile_id, credential
        ):
            raise ApiError(
                404,
                "not_found",
                "This service does not know this person, or the token is not theirs.",
            )
        summaries = []
        for mentorship_id in await repo.ids_of_person(profile_id):
            m = await repo.get(mentorship_id)
            if m is not None:
                summaries.append(
                    MentorshipSummary(
                        id=m.id,
                        match_id=m.match_id,
                        mentee_id=m.mentee_id,
                        mentor_id=m.mentor_id,
                        status=m.status,
                        started_at=m.started_at,
                        ended_at=m.ended_at,
                        next_check_in_due=domain.next_check_in_due(m) if m.active else None,
                    )
                )
    return MentorshipList(mentorships=summaries)


# --- the schedule and check-ins --------------------------------------------------------------


@router.put(
    "/mentorships/{mentorship_id}/cadence",
    tags=["check-ins"],
    summary="Change how often you meet (every 1, 2 or 4 weeks; counted from now)",
    responses=_CHANGE,
)
async def change_cadence(
    body: CadenceChange, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    return await _decide(
        uow,
        viewer,
        settings.policy(),
        lambda m, by: domain.change_cadence(m, by, body.weeks, clock()),
    )


@router.post(
    "/mentorships/{mentorship_id}/check-ins",
    status_code=201,
    tags=["check-ins"],
    summary="Log a check-in: what you discussed and the next step",
    responses=_CHANGE,
)
async def log_check_in(
    body: NewCheckIn, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    by = _side(viewer)
    return await _change(
        uow,
        viewer,
        lambda tx: use_cases.log_check_in(
            tx.repo,
            tx.outbox,
            viewer.mentorship_id,
            by,
            discussed=body.discussed,
            next_step=body.next_step,
            now=clock(),
            policy=settings.policy(),
        ),
    )


# --- goals -----------------------------------------------------------------------------------


@router.post(
    "/mentorships/{mentorship_id}/goals",
    status_code=201,
    tags=["goals"],
    summary="Propose a goal on one of your gaps (mentee; at most five)",
    responses=_CHANGE,
)
async def propose_goal(
    body: NewGoal, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    by = _side(viewer)

    async def work(tx: Tx) -> Mentorship:
        changed, _ = await use_cases.propose_goal(
            tx.repo,
            tx.outbox,
            viewer.mentorship_id,
            by,
            skill=body.skill,
            title=body.title,
            milestones=[(x.title, x.due_on) for x in body.milestones],
            now=clock(),
            policy=settings.policy(),
        )
        return changed

    return await _change(uow, viewer, work)


@router.post(
    "/mentorships/{mentorship_id}/goals/{goal_id}/agreement",
    tags=["goals"],
    summary="Agree to a goal the mentee proposed (mentor)",
    responses=_CHANGE,
)
async def agree_goal(
    goal_id: uuid.UUID, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    return await _decide(
        uow, viewer, settings.policy(), lambda m, by: domain.agree_goal(m, by, goal_id, clock())
    )


@router.post(
    "/mentorships/{mentorship_id}/goals/{goal_id}/achievement",
    tags=["goals"],
    summary="Mark an agreed goal achieved",
    responses=_CHANGE,
)
async def achieve_goal(
    goal_id: uuid.UUID, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    return await _decide(
        uow, viewer, settings.policy(), lambda m, by: domain.achieve_goal(m, by, goal_id, clock())
    )


@router.delete(
    "/mentorships/{mentorship_id}/goals/{goal_id}",
    tags=["goals"],
    summary="Withdraw (mentee) or decline (mentor) a goal not agreed yet",
    responses=_CHANGE,
)
async def withdraw_goal(
    goal_id: uuid.UUID, viewer: ViewerDep, uow: UowDep, settings: SettingsDep
) -> MentorshipView:
    return await _decide(
        uow, viewer, settings.policy(), lambda m, by: domain.withdraw_goal(m, by, goal_id)
    )


@router.post(
    "/mentorships/{mentorship_id}/goals/{goal_id}/milestones",
    status_code=201,
    tags=["goals"],
    summary="Add a milestone to a goal (at most ten)",
    responses=_CHANGE,
)
async def add_milestone(
    goal_id: uuid.UUID,
    body: NewMilestoneBody,
    viewer: ViewerDep,
    uow: UowDep,
    settings: SettingsDep,
) -> MentorshipView:
    _side(viewer)

    async def work(tx: Tx) -> Mentorship:
        changed, _ = await use_cases.add_milestone(
            tx.repo,
            tx.outbox,
            viewer.mentorship_id,
            goal_id,
            title=body.title,
            due_on=body.due_on,
            policy=settings.policy(),
        )
        return changed

    return await _change(uow, viewer, work)


@router.put(
    "/mentorships/{mentorship_id}/goals/{goal_id}/milestones/{milestone_id}",
    tags=["goals"],
    summary="Mark a milestone done or not done",
    responses=_CHANGE,
)
async def mark_milestone(
    goal_id: uuid.UUID,
    milestone_id: uuid.UUID,
    body: MilestoneDone,
    viewer: ViewerDep,
    uow: UowDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> MentorshipView:
    return await _decide(
        uow,
        viewer,
        settings.policy(),
        lambda m, _: (
            domain.mark_milestone(m, goal_id, milestone_id, done=body.done, now=clock()),
            [],
        ),
    )


# --- surveys and progress ------------------------------------------------------------------


@router.post(
    "/mentorships/{mentorship_id}/feedback",
    status_code=201,
    tags=["surveys"],
    summary="Answer the survey (after the first check-in, and at the end)",
    responses=_CHANGE,
)
async def give_feedback(
    body: SurveyAnswer, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    return await _decide(
        uow,
        viewer,
        settings.policy(),
        lambda m, by: domain.give_feedback(
            m,
            by,
            round_=body.round,
            csat=body.csat,
            nps=body.nps,
            comment=body.comment,
            share_comment=body.share_comment,
            now=clock(),
        ),
    )


@router.post(
    "/mentorships/{mentorship_id}/assessments",
    status_code=201,
    tags=["surveys"],
    summary="Re-assess your current levels on your gap skills (mentee)",
    responses=_CHANGE,
)
async def reassess(
    body: Reassessment, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    by = _side(viewer)
    return await _change(
        uow,
        viewer,
        lambda tx: use_cases.reassess(
            tx.repo,
            tx.outbox,
            viewer.mentorship_id,
            by,
            {level.skill: level.current for level in body.levels},
            now=clock(),
            policy=settings.policy(),
        ),
    )


# --- the ending ----------------------------------------------------------------------------


@router.post(
    "/mentorships/{mentorship_id}/completion",
    tags=["ending"],
    summary=(
        "Complete the mentorship: at once when every agreed goal is achieved, otherwise once "
        "both sides asked"
    ),
    responses=_CHANGE,
)
async def propose_completion(
    viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    policy = settings.policy()
    return await _decide(
        uow, viewer, policy, lambda m, by: domain.propose_completion(m, by, clock(), policy)
    )


@router.post(
    "/mentorships/{mentorship_id}/ending",
    tags=["ending"],
    summary="End the mentorship early, with a reason",
    responses=_CHANGE,
)
async def end_early(
    body: EarlyEnding, viewer: ViewerDep, uow: UowDep, settings: SettingsDep, clock: ClockDep
) -> MentorshipView:
    policy = settings.policy()
    return await _decide(
        uow, viewer, policy, lambda m, by: domain.end_early(m, by, body.reason, clock(), policy)
    )


# --- reports -------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _month(value: str | None, field: str, default: str) -> str:
    if value is None:
        return default
    if not _MONTH.match(value):
        raise ApiError(
            422,
            "invalid_request",
            f"'{field}' is a month as YYYY-MM, such as 2026-12.",
            field=field,
        )
    return value


@router.get(
    "/reports/program",
    tags=["reports"],
    summary="Program figures by month (operator)",
    description=(
        "Per month (UTC) and for the whole range: mentorships started, completed, ended early "
        "and lapsed; survey answers with median CSAT and NPS (percent promoters minus percent "
        "detractors), for both sides and per side; and the gaps closed per skill by the "
        "mentorships that ended in the month."
    ),
    responses={
        401: {"model": ErrorBody, "description": "No bearer token."},
        403: {"model": ErrorBody, "description": "Not the operator key, or none is configured."},
    },
)
async def program_report(
    _: OperatorDep,
    uow: UowDep,
    settings: SettingsDep,
    clock: ClockDep,
    first: str | None = Query(
        default=None,
        alias="from",
        description="First month, YYYY-MM (default: eleven months before `to`).",
    ),
    last: str | None = Query(
        default=None, alias="to", description="Last month, YYYY-MM (default: this month)."
    ),
) -> ProgramReport:
    last_month = _month(last, "to", domain.month_of(clock()))
    first_month = _month(first, "from", _months_before(last_month, 11))
    if first_month > last_month:
        raise ApiError(422, "invalid_request", "'from' is after 'to'.", field="from")
    months = len(domain.months_between(first_month, last_month))
    if months > settings.report_max_months:
        raise ApiError(
            422,
            "invalid_request",
            f"A report covers at most {settings.report_max_months} months; this asks for {months}.",
            field="from",
        )
    async with uow.reading() as repo:
        per_month, total = await use_cases.program_report(repo, first_month, last_month)
    return ProgramReport(
        first_month=first_month,
        last_month=last_month,
        months=[PeriodView.model_validate(f, from_attributes=True) for f in per_month],
        total=PeriodView.model_validate(total, from_attributes=True),
    )


def _months_before(month: str, count: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + (number - 1) - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --- views -----------------------------------------------------------------------------------


async def _view(repo: MentorshipRepository, m: Mentorship, side: Party | None) -> MentorshipView:
    """The mentorship as `side` (None: an operator) may see it: the other side's survey
    scores stay with operators, and their free text too unless its author consented."""
    per_skill, overall = domain.progress(m.skills)
    notes = await repo.check_ins(m.id)
    return MentorshipView(
        id=m.id,
        match_id=m.match_id,
        mentee_id=m.mentee_id,
        mentor_id=m.mentor_id,
        your_side=side,
        status=m.status,
        cadence_weeks=m.cadence_weeks,
        started_at=m.started_at,
        next_check_in_due=domain.next_check_in_due(m) if m.active else None,
        lapses_at=domain.lapse_at(m) if m.active else None,
        check_ins=m.check_ins,
        goals=[
            GoalView(
                id=g.id,
                skill=g.skill,
                title=g.title,
                status=g.status,
                proposed_at=g.proposed_at,
                agreed_at=g.agreed_at,
                achieved_at=g.achieved_at,
                milestones=[
                    MilestoneView(
                        id=x.id, title=x.title, due_on=x.due_on, done=x.done, done_at=x.done_at
                    )
                    for x in g.milestones
                ],
            )
            for g in m.goals
        ],
        progress=ProgressView(skills=per_skill, gap_closed_overall=overall),
        check_in_log=[
            CheckInView(
                number=n.number,
                logged_by=n.logged_by,
                logged_at=n.logged_at,
                discussed=n.discussed,
                next_step=n.next_step,
            )
            for n in notes
        ],
        feedback=[
            AnswerView(
                given_by=a.party,
                round=a.round,
                given_at=a.given_at,
                csat=a.csat if side in (None, a.party) else None,
                nps=a.nps if side in (None, a.party) else None,
                comment=domain.visible_comment(a, side),
                comment_shared=a.share_comment,
            )
            for a in m.answers
        ],
        surveys_open=domain.open_surveys(m, side) if side is not None else [],
        completion_proposed_by=m.completion_proposed_by,
        ended_at=m.ended_at,
        ending=m.ending,
        end_cause=m.end_cause,
        ended_by=m.ended_by,
        end_reason=m.end_reason,
        feedback_due_by=m.feedback_due_by,
        outcome_recorded_at=m.outcome_recorded_at,
    )

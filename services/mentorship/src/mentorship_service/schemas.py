"""The mentorship API's request and response bodies.

Requests are strict: unknown fields are refused, types are not coerced, texts have a size
limit, and every rule names the field it guards (a 422 lists them).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from mentorship_shared.contracts.events import (
    CadenceWeeks,
    EndCause,
    FeedbackRound,
    MatchParty,
    MentorshipEnding,
    SkillProgress,
)
from mentorship_shared.contracts.skills import TAXONOMY
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .domain import CSAT_RANGE, MAX_GOALS, MAX_MILESTONES_PER_GOAL, NPS_RANGE, Status


def _known_skill(value: str) -> str:
    if value not in TAXONOMY:
        raise ValueError(
            f"unknown skill '{value}'; GET /v1/skills of the profile service lists them"
        )
    return value


def _one_line(value: str) -> str:
    # Titles end up in mails; a line break or other control character has no place there.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must be one line, without control characters")
    return value


SkillId = Annotated[
    str, AfterValidator(_known_skill), Field(description="Skill id from the taxonomy.")
]
Title = Annotated[
    str,
    Field(min_length=3, max_length=200, description="One line, 3 to 200 characters."),
    AfterValidator(_one_line),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


# --- requests ------------------------------------------------------------------------------


class CadenceChange(_Strict):
    weeks: CadenceWeeks = Field(description="Weeks between check-ins: 1, 2 or 4.")


class NewMilestoneBody(_Strict):
    title: Title = Field(description="A step towards the goal, such as 'Draft the pricing page'.")
    # Not strict: the body reaches the model already parsed from JSON, where a date is a string.
    due_on: date = Field(strict=False, description="When the step should be done (YYYY-MM-DD).")


class NewGoal(_Strict):
    skill: SkillId = Field(description="One of the mentee's gap skills in this mentorship.")
    title: Title = Field(
        description=(
            "The goal in the mentee's words, such as 'Write a one-page product strategy for "
            "feature X'."
        )
    )
    milestones: list[NewMilestoneBody] = Field(
        default_factory=list,
        max_length=MAX_MILESTONES_PER_GOAL,
        description=f"Steps with a due date, at most {MAX_MILESTONES_PER_GOAL}.",
    )


class MilestoneDone(_Strict):
    done: bool = Field(description="True when the step is done, false to open it again.")


class NewCheckIn(_Strict):
    discussed: str = Field(
        min_length=1, max_length=2000, description="What the two talked about (up to 2000 chars)."
    )
    next_step: str = Field(
        min_length=1, max_length=500, description="The next step agreed on (up to 500 chars)."
    )


class SkillLevel(_Strict):
    skill: SkillId = Field(description="One of the mentee's gap skills in this mentorship.")
    current: int = Field(ge=0, le=5, description="Where the mentee is now, 0 (none) to 5.")


def _no_repeated_skill(levels: list[SkillLevel]) -> list[SkillLevel]:
    ids = [level.skill for level in levels]
    repeated = sorted({skill for skill in ids if ids.count(skill) > 1})
    if repeated:
        raise ValueError(f"skills listed twice: {', '.join(repeated)}")
    return levels


class Reassessment(_Strict):
    levels: Annotated[
        list[SkillLevel],
        Field(
            min_length=1,
            max_length=len(TAXONOMY.skills),
            description="The mentee's current level on some or all of their gap skills.",
        ),
        AfterValidator(_no_repeated_skill),
    ]


class SurveyAnswer(_Strict):
    round: FeedbackRound = Field(
        description=(
            "'first_check_in': open after the first check-in; 'closing': open once the "
            "mentorship ended, until the outcome is recorded."
        )
    )
    csat: int = Field(
        ge=CSAT_RANGE[0],
        le=CSAT_RANGE[1],
        description="How satisfied are you with this mentorship? 1 (not at all) to 5 (very).",
    )
    nps: int = Field(
        ge=NPS_RANGE[0],
        le=NPS_RANGE[1],
        description=(
            "How likely are you to recommend this mentor (or mentee)? 0 (not at all) to 10."
        ),
    )
    comment: str | None = Field(
        default=None, max_length=2000, description="Anything else, in your words (optional)."
    )
    share_comment: bool = Field(
        default=False,
        description=(
            "Consent to show the comment to the other side; without it only you and the "
            "operators see it."
        ),
    )


class EarlyEnding(_Strict):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the mentorship ends now (up to 500 chars); both sides see it.",
    )


# --- responses -----------------------------------------------------------------------------


class MilestoneView(BaseModel):
    id: uuid.UUID = Field(description="Milestone id.")
    title: str = Field(description="The step.")
    due_on: date = Field(description="When it should be done.")
    done: bool = Field(description="Whether it is done.")
    done_at: datetime | None = Field(description="When it was marked done.")


class GoalView(BaseModel):
    id: uuid.UUID = Field(description="Goal id.")
    skill: str = Field(description="The gap skill the goal works on.")
    title: str = Field(description="The goal.")
    status: Literal["proposed", "agreed"] = Field(
        description="'proposed' by the mentee, 'agreed' once the mentor confirmed."
    )
    proposed_at: datetime = Field(description="When the mentee proposed it.")
    agreed_at: datetime | None = Field(description="When the mentor agreed.")
    achieved_at: datetime | None = Field(description="When it was marked achieved.")
    milestones: list[MilestoneView] = Field(description="Its steps, in the order added.")


class ProgressView(BaseModel):
    skills: list[SkillProgress] = Field(description="Gap closed per gap skill.")
    gap_closed_overall: float | None = Field(
        description="Levels closed over all gap levels, 0 to 1; None while no gap is known."
    )


class CheckInView(BaseModel):
    number: int = Field(description="1 for the first check-in.")
    logged_by: MatchParty = Field(description="Who logged it.")
    logged_at: datetime = Field(description="When.")
    discussed: str = Field(description="What the two talked about.")
    next_step: str = Field(description="The next step agreed on.")


class AnswerView(BaseModel):
    given_by: MatchParty = Field(description="Who answered.")
    round: FeedbackRound = Field(description="The survey round.")
    given_at: datetime = Field(description="When.")
    csat: int | None = Field(
        description="Satisfaction 1-5; only for its author and operators (None for the other side)."
    )
    nps: int | None = Field(
        description=(
            "Likelihood to recommend 0-10; only for its author and operators (None for the "
            "other side)."
        )
    )
    comment: str | None = Field(
        description="The free text, for the other side only when its author consented."
    )
    comment_shared: bool = Field(description="Whether the author consented to share the text.")


class MentorshipView(BaseModel):
    """A mentorship as one of its two people (or an operator) sees it."""

    id: uuid.UUID = Field(description="Mentorship id.")
    match_id: uuid.UUID = Field(description="The accepted match it grew from.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the mentor.")
    your_side: MatchParty | None = Field(
        description="'mentee' or 'mentor' for the two people; None for an operator."
    )
    status: Status = Field(description="'active', or how it ended.")
    cadence_weeks: int = Field(description="Weeks between check-ins.")
    started_at: datetime = Field(description="When both accepted the match.")
    next_check_in_due: datetime | None = Field(
        description="When the next check-in is due (None once ended)."
    )
    lapses_at: datetime | None = Field(
        description="When it lapses without a check-in (None once ended)."
    )
    check_ins: int = Field(description="Check-ins logged.")
    goals: list[GoalView] = Field(description=f"Up to {MAX_GOALS} goals.")
    progress: ProgressView = Field(description="Progress on the mentee's gaps.")
    check_in_log: list[CheckInView] = Field(description="Every check-in, first first.")
    feedback: list[AnswerView] = Field(description="Survey answers, as the viewer may see them.")
    surveys_open: list[FeedbackRound] = Field(
        description="The survey rounds the viewer can answer now."
    )
    completion_proposed_by: MatchParty | None = Field(
        description="The side that proposed to complete; it completes when the other agrees."
    )
    ended_at: datetime | None = Field(description="When it ended.")
    ending: MentorshipEnding | None = Field(description="How it ended.")
    end_cause: EndCause | None = Field(description="Why it ended.")
    ended_by: MatchParty | None = Field(description="The side that ended it.")
    end_reason: str | None = Field(description="The reason given for an early end.")
    feedback_due_by: datetime | None = Field(
        description="Until when the closing survey and the last re-assessment are taken."
    )
    outcome_recorded_at: datetime | None = Field(
        description="When the outcome was recorded (surveys and re-assessment closed)."
    )


class MentorshipSummary(BaseModel):
    id: uuid.UUID = Field(description="Mentorship id.")
    match_id: uuid.UUID = Field(description="The accepted match it grew from.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the mentor.")
    status: Status = Field(description="'active', or how it ended.")
    started_at: datetime = Field(description="When it started.")
    ended_at: datetime | None = Field(description="When it ended.")
    next_check_in_due: datetime | None = Field(description="When the next check-in is due.")


class MentorshipList(BaseModel):
    mentorships: list[MentorshipSummary] = Field(description="Newest first.")


class SurveyView(BaseModel):
    answers: int = Field(description="Survey answers given in the period.")
    csat_median: float | None = Field(description="Median satisfaction (1-5); None: no answer.")
    nps: float | None = Field(
        description="Percent promoters (9-10) minus percent detractors (0-6), -100 to 100."
    )
    promoters: int = Field(description="Answers of 9 or 10.")
    passives: int = Field(description="Answers of 7 or 8.")
    detractors: int = Field(description="Answers of 0 to 6.")


class SkillGapView(BaseModel):
    skill: str = Field(description="Skill id.")
    mentorships: int = Field(description="Mentorships that ended in the period with this gap.")
    gap_levels: int = Field(description="Their gap levels on this skill, added up.")
    levels_closed: int = Field(description="The levels they closed, added up.")
    gap_closed: float = Field(description="levels_closed / gap_levels.")


class PeriodView(BaseModel):
    period: str = Field(description="'2026-12' for a month, '2026-01..2026-12' for the range.")
    started: int = Field(description="Mentorships that started in the period.")
    completed: int = Field(description="Mentorships that ended completed in the period.")
    ended_early: int = Field(description="Mentorships that ended early in the period.")
    lapsed: int = Field(description="Mentorships that lapsed in the period.")
    feedback: SurveyView = Field(description="Survey answers given in the period, both sides.")
    feedback_by_side: dict[MatchParty, SurveyView] = Field(
        description="The same, per side ('mentee' answers rate their mentor and the reverse)."
    )
    gap_closed: list[SkillGapView] = Field(
        description="Per skill, the gaps closed by the mentorships that ended in the period."
    )
    gap_closed_overall: float | None = Field(
        description="All their levels closed over all their gap levels; None: no gap."
    )


class ProgramReport(BaseModel):
    """Program figures by month, for operators."""

    first_month: str = Field(description="First month of the range, YYYY-MM (UTC).")
    last_month: str = Field(description="Last month of the range, YYYY-MM (UTC).")
    months: list[PeriodView] = Field(description="One entry per month, oldest first.")
    total: PeriodView = Field(description="The whole range at once.")

"""A mentorship from the accepted match to its outcome: goals, check-ins, surveys, progress on
the mentee's gaps, and the ending.

Pure: every operation takes the mentorship as it is and the time as a value (`now`), and
returns the mentorship as it is afterwards with the events to publish, or raises `Refused`
and changes nothing. Nothing here reads a clock, a database or the broker.

The schedule: the next check-in is due one cadence after the schedule's anchor (the start, the
last check-in, or the last change of cadence). Both sides are reminded `reminder_lead` before
it; if it passes without a check-in they are nudged half a cadence later; two cadences after
the anchor without a check-in the mentorship lapses.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import (
    CadenceWeeks,
    CheckInCadenceChanged,
    CheckInLogged,
    CheckInMissed,
    CheckInReminderIssued,
    CompletionProposed,
    EndCause,
    FeedbackGiven,
    FeedbackRequested,
    FeedbackRound,
    GoalAchieved,
    GoalAgreed,
    GoalProposed,
    MatchParty,
    MenteeSkill,
    MentorshipEnded,
    MentorshipEnding,
    MentorshipOutcomeRecorded,
    MentorshipStarted,
    SideFeedback,
    SkillProgress,
    SkillsReassessed,
)

Party = MatchParty
Status = Literal["active", "completed", "ended_early", "lapsed"]
GoalStatus = Literal["proposed", "agreed"]
RefusalKind = Literal["invalid", "forbidden", "not_found", "conflict"]

#: Most goals (proposed or agreed) a mentorship has at once.
MAX_GOALS = 5
#: Most milestones one goal has.
MAX_MILESTONES_PER_GOAL = 10
#: The cadences the two may agree on, in weeks between check-ins.
CADENCES_WEEKS = (1, 2, 4)
DEFAULT_CADENCE_WEEKS = 2
#: Satisfaction and recommendation scales of the survey.
CSAT_RANGE = (1, 5)
NPS_RANGE = (0, 10)
#: What an erasure leaves of free text a person wrote in a mentorship.
ERASED = "[erased]"


class Refused(Exception):
    """The operation breaks a rule of the mentorship; nothing changed.

    `kind` says how a caller should answer: `invalid` (the request names something that
    cannot be), `forbidden` (the caller's side may not do this), `not_found`, or `conflict`
    (not now, in this state). `field` names the offending request field, if one does."""

    def __init__(
        self, kind: RefusalKind, code: str, message: str, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class MentorshipPolicy:
    """The times the schedule and the ending work with (from the service's settings)."""

    #: How long before a due check-in both sides are reminded.
    reminder_lead: timedelta = timedelta(days=2)
    #: After the end, how long the closing survey and the last re-assessment are taken
    #: before the outcome is recorded with what came in.
    closing_window: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Milestone:
    id: uuid.UUID
    title: str
    due_on: date
    done_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True)
class Goal:
    id: uuid.UUID
    skill: str
    title: str
    #: 1 to MAX_GOALS, unique within the mentorship (the database enforces the limit with it).
    position: int
    proposed_at: datetime
    status: GoalStatus = "proposed"
    agreed_at: datetime | None = None
    achieved_at: datetime | None = None
    milestones: tuple[Milestone, ...] = ()

    @property
    def achieved(self) -> bool:
        return self.achieved_at is not None


@dataclass(frozen=True)
class SkillLevels:
    """One of the mentee's gaps: where they started, where they need to be, where they are."""

    skill: str
    start: int
    target: int
    current: int

    @property
    def gap(self) -> int:
        return self.target - self.start

    @property
    def levels_closed(self) -> int:
        """Levels gained towards the target; a lower re-assessment closes nothing (0), and
        going past the target closes the gap, no more."""
        return min(max(self.current - self.start, 0), self.gap)

    @property
    def gap_closed(self) -> float:
        return self.levels_closed / self.gap if self.gap > 0 else 0.0


@dataclass(frozen=True)
class Answer:
    """One side's survey answer in one round."""

    party: Party
    round: FeedbackRound
    csat: int
    nps: int
    comment: str | None
    share_comment: bool
    given_at: datetime


@dataclass(frozen=True)
class NewMilestone:
    id: uuid.UUID
    title: str
    due_on: date


@dataclass(frozen=True)
class Mentorship:
    id: uuid.UUID
    match_id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    started_at: datetime
    cadence_weeks: int
    #: The start, the last check-in or the last change of cadence: the schedule counts from it.
    schedule_anchor: datetime
    status: Status = "active"
    check_ins: int = 0
    #: The check-in number the last reminder was issued for (0: none yet), and the last nudge.
    reminded_for: int = 0
    nudged_for: int = 0
    goals: tuple[Goal, ...] = ()
    #: The mentee's gaps; empty until the mentee's profile has reached the service.
    skills: tuple[SkillLevels, ...] = ()
    answers: tuple[Answer, ...] = ()
    completion_proposed_by: Party | None = None
    ended_at: datetime | None = None
    ending: MentorshipEnding | None = None
    end_cause: EndCause | None = None
    ended_by: Party | None = None
    end_reason: str | None = None
    feedback_due_by: datetime | None = None
    outcome_recorded_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def open_for_closing(self) -> bool:
        """Ended, and the closing survey and re-assessment are still taken."""
        return not self.active and self.outcome_recorded_at is None

    @property
    def next_check_in_number(self) -> int:
        return self.check_ins + 1

    def party_of(self, profile_id: uuid.UUID) -> Party | None:
        if profile_id == self.mentee_id:
            return "mentee"
        if profile_id == self.mentor_id:
            return "mentor"
        return None

    def goal(self, goal_id: uuid.UUID) -> Goal:
        for goal in self.goals:
            if goal.id == goal_id:
                return goal
        raise Refused("not_found", "goal_not_found", "This mentorship has no goal with this id.")

    def answer(self, party: Party, round_: FeedbackRound) -> Answer | None:
        for answer in self.answers:
            if answer.party == party and answer.round == round_:
                return answer
        return None


Decision = tuple[Mentorship, list[EventPayload]]


# --- the schedule --------------------------------------------------------------------------


def cadence(mentorship: Mentorship) -> timedelta:
    return timedelta(weeks=mentorship.cadence_weeks)


def next_check_in_due(mentorship: Mentorship) -> datetime:
    return mentorship.schedule_anchor + cadence(mentorship)


def reminder_at(mentorship: Mentorship, policy: MentorshipPolicy) -> datetime:
    """`reminder_lead` before the due check-in, but never before the anchor (a lead longer
    than the cadence would remind of a check-in that just happened)."""
    return max(mentorship.schedule_anchor, next_check_in_due(mentorship) - policy.reminder_lead)


def nudge_at(mentorship: Mentorship) -> datetime:
    """Halfway between the missed check-in and the lapse."""
    return next_check_in_due(mentorship) + cadence(mentorship) / 2


def lapse_at(mentorship: Mentorship) -> datetime:
    """Two cadences after the anchor without a check-in."""
    return mentorship.schedule_anchor + 2 * cadence(mentorship)


def wake_at(mentorship: Mentorship, policy: MentorshipPolicy) -> datetime | None:
    """The next moment `tick` has something to do for this mentorship; None when nothing ever
    will (its outcome is recorded)."""
    if mentorship.active:
        number = mentorship.next_check_in_number
        moments = [lapse_at(mentorship)]
        if mentorship.nudged_for < number:
            moments.append(nudge_at(mentorship))
        if mentorship.reminded_for < number and mentorship.nudged_for < number:
            moments.append(reminder_at(mentorship, policy))
        return min(moments)
    if mentorship.outcome_recorded_at is None:
        return mentorship.feedback_due_by
    return None


def tick(mentorship: Mentorship, now: datetime, policy: MentorshipPolicy) -> Decision:
    """What time alone does to a mentorship: remind, nudge, lapse, record the outcome.

    At most one reminder and one nudge per check-in. Where several are due at once (the
    service was down), only the furthest step happens: a lapse is not preceded by a nudge
    that would come too late, nor a nudge by a reminder."""
    m = mentorship
    if m.active:
        number = m.next_check_in_number
        if now >= lapse_at(m):
            return _end(m, "lapsed", "no_check_in", None, now, policy)
        if now >= nudge_at(m) and m.nudged_for < number:
            nudged = replace(m, nudged_for=number, reminded_for=number)
            return nudged, [
                CheckInMissed(
                    **_about(m),
                    check_in_number=number,
                    due_at=next_check_in_due(m),
                    lapses_at=lapse_at(m),
                )
            ]
        if now >= reminder_at(m, policy) and m.reminded_for < number and m.nudged_for < number:
            return replace(m, reminded_for=number), [
                CheckInReminderIssued(
                    **_about(m), check_in_number=number, due_at=next_check_in_due(m)
                )
            ]
        return m, []
    if m.outcome_recorded_at is None and m.feedback_due_by is not None and now >= m.feedback_due_by:
        return _record_outcome(m, now)
    return m, []


# --- starting ------------------------------------------------------------------------------


def gap_skills(skills: Iterable[MenteeSkill]) -> tuple[SkillLevels, ...]:
    """The mentee's gaps from their self-assessment: the skills whose target is above the
    current level, each starting where the mentee is."""
    return tuple(
        SkillLevels(skill=s.skill, start=s.current, target=s.target, current=s.current)
        for s in skills
        if s.target > s.current
    )


def start(
    *,
    mentorship_id: uuid.UUID,
    match_id: uuid.UUID,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
    now: datetime,
    skills: Sequence[SkillLevels] = (),
    cadence_weeks: int = DEFAULT_CADENCE_WEEKS,
) -> Decision:
    """A new mentorship for an accepted match, with the mentee's gaps if they are known."""
    mentorship = Mentorship(
        id=mentorship_id,
        match_id=match_id,
        mentee_id=mentee_id,
        mentor_id=mentor_id,
        started_at=now,
        cadence_weeks=cadence_weeks,
        schedule_anchor=now,
        skills=tuple(skills),
    )
    return mentorship, [
        MentorshipStarted(
            **_about(mentorship),
            started_at=now,
            cadence_weeks=_cadence_literal(cadence_weeks),
            next_check_in_due=next_check_in_due(mentorship),
        )
    ]


def with_baseline(mentorship: Mentorship, skills: Sequence[SkillLevels]) -> Mentorship:
    """The mentorship with the mentee's gaps, if it had none yet (the profile arrived after
    the match). Gaps once set stay: progress is measured against the start."""
    if mentorship.skills or not skills:
        return mentorship
    return replace(mentorship, skills=tuple(skills))


def change_cadence(mentorship: Mentorship, by: Party, weeks: int, now: datetime) -> Decision:
    """Either side changes the cadence; the next check-in is then one new cadence away."""
    m = _require_active(mentorship)
    if weeks not in CADENCES_WEEKS:
        raise Refused(
            "invalid",
            "invalid_request",
            f"The cadence is every 1, 2 or 4 weeks, not {weeks}.",
            field="weeks",
        )
    if weeks == m.cadence_weeks:
        return m, []
    changed = replace(m, cadence_weeks=weeks, schedule_anchor=now)
    return changed, [
        CheckInCadenceChanged(
            **_about(m),
            cadence_weeks=_cadence_literal(weeks),
            changed_by=by,
            next_check_in_due=next_check_in_due(changed),
        )
    ]


# --- goals ---------------------------------------------------------------------------------


def propose_goal(
    mentorship: Mentorship,
    by: Party,
    *,
    goal_id: uuid.UUID,
    skill: str,
    title: str,
    milestones: Sequence[NewMilestone],
    now: datetime,
) -> Decision:
    m = _require_active(mentorship)
    _require_party(by, "mentee", "Only the mentee proposes goals; the mentor agrees to them.")
    gaps = _require_gaps(m)
    if skill not in {s.skill for s in gaps}:
        raise Refused(
            "invalid",
            "invalid_request",
            f"'{skill}' is not one of the mentee's gap skills in this mentorship "
            f"({', '.join(s.skill for s in gaps)}).",
            field="skill",
        )
    if len(m.goals) >= MAX_GOALS:
        raise Refused(
            "conflict",
            "too_many_goals",
            f"A mentorship has at most {MAX_GOALS} goals; withdraw a proposed one first.",
            field="goals",
        )
    if len(milestones) > MAX_MILESTONES_PER_GOAL:
        raise Refused(
            "invalid",
            "invalid_request",
            f"A goal has at most {MAX_MILESTONES_PER_GOAL} milestones.",
            field="milestones",
        )
    taken = {goal.position for goal in m.goals}
    position = min(p for p in range(1, MAX_GOALS + 1) if p not in taken)
    goal = Goal(
        id=goal_id,
        skill=skill,
        title=title,
        position=position,
        proposed_at=now,
        milestones=tuple(Milestone(id=n.id, title=n.title, due_on=n.due_on) for n in milestones),
    )
    return replace(m, goals=(*m.goals, goal)), [
        GoalProposed(
            **_about(m), goal_id=goal_id, skill=skill, title=title, milestones=len(milestones)
        )
    ]


def agree_goal(mentorship: Mentorship, by: Party, goal_id: uuid.UUID, now: datetime) -> Decision:
    m = _require_active(mentorship)
    _require_party(by, "mentor", "Only the mentor agrees to a goal the mentee proposed.")
    goal = m.goal(goal_id)
    if goal.status == "agreed":
        raise Refused("conflict", "goal_already_agreed", "This goal is agreed already.")
    agreed = replace(goal, status="agreed", agreed_at=now)
    return _with_goal(m, agreed), [
        GoalAgreed(**_about(m), goal_id=goal.id, skill=goal.skill, title=goal.title, agreed_at=now)
    ]


def withdraw_goal(mentorship: Mentorship, by: Party, goal_id: uuid.UUID) -> Decision:
    """Either side drops a goal not agreed yet (the mentee changed their mind, or the mentor
    declines it); agreed goals stay."""
    m = _require_active(mentorship)
    goal = m.goal(goal_id)
    if goal.status == "agreed":
        raise Refused(
            "conflict",
            "goal_already_agreed",
            "An agreed goal stays; mark it achieved, or end the mentorship.",
        )
    return replace(m, goals=tuple(g for g in m.goals if g.id != goal_id)), []


def achieve_goal(mentorship: Mentorship, by: Party, goal_id: uuid.UUID, now: datetime) -> Decision:
    m = _require_active(mentorship)
    goal = m.goal(goal_id)
    if goal.status != "agreed":
        raise Refused(
            "conflict", "goal_not_agreed", "The mentor has to agree to the goal before it counts."
        )
    if goal.achieved:
        raise Refused("conflict", "goal_already_achieved", "This goal is achieved already.")
    return _with_goal(m, replace(goal, achieved_at=now)), [
        GoalAchieved(
            **_about(m), goal_id=goal.id, skill=goal.skill, achieved_by=by, achieved_at=now
        )
    ]


def add_milestone(
    mentorship: Mentorship, goal_id: uuid.UUID, milestone: NewMilestone
) -> Mentorship:
    m = _require_active(mentorship)
    goal = m.goal(goal_id)
    if len(goal.milestones) >= MAX_MILESTONES_PER_GOAL:
        raise Refused(
            "conflict",
            "too_many_milestones",
            f"A goal has at most {MAX_MILESTONES_PER_GOAL} milestones.",
            field="milestones",
        )
    added = Milestone(id=milestone.id, title=milestone.title, due_on=milestone.due_on)
    return _with_goal(m, replace(goal, milestones=(*goal.milestones, added)))


def mark_milestone(
    mentorship: Mentorship,
    goal_id: uuid.UUID,
    milestone_id: uuid.UUID,
    *,
    done: bool,
    now: datetime,
) -> Mentorship:
    m = _require_active(mentorship)
    goal = m.goal(goal_id)
    for milestone in goal.milestones:
        if milestone.id == milestone_id:
            if milestone.done == done:
                return m
            changed = replace(milestone, done_at=now if done else None)
            return _with_goal(
                m,
                replace(
                    goal,
                    milestones=tuple(
                        changed if x.id == milestone_id else x for x in goal.milestones
                    ),
                ),
            )
    raise Refused("not_found", "milestone_not_found", "This goal has no milestone with this id.")


# --- check-ins, surveys, re-assessment ------------------------------------------------------


def log_check_in(mentorship: Mentorship, by: Party, now: datetime) -> Decision:
    """Either side logs a check-in: the schedule starts again from now. The first one opens
    the first survey round."""
    m = _require_active(mentorship)
    number = m.next_check_in_number
    logged = replace(m, check_ins=number, schedule_anchor=now)
    events: list[EventPayload] = [
        CheckInLogged(
            **_about(m),
            check_in_number=number,
            logged_by=by,
            logged_at=now,
            next_check_in_due=next_check_in_due(logged),
        )
    ]
    if number == 1:
        events.append(FeedbackRequested(**_about(m), round="first_check_in"))
    return logged, events


def give_feedback(
    mentorship: Mentorship,
    by: Party,
    *,
    round_: FeedbackRound,
    csat: int,
    nps: int,
    comment: str | None,
    share_comment: bool,
    now: datetime,
) -> Decision:
    """One answer per side and round. The first round opens with the first check-in, the
    closing round with the end; both close when the outcome is recorded. The second closing
    answer records the outcome at once."""
    m = mentorship
    if not CSAT_RANGE[0] <= csat <= CSAT_RANGE[1]:
        raise Refused("invalid", "invalid_request", "csat is 1 to 5.", field="csat")
    if not NPS_RANGE[0] <= nps <= NPS_RANGE[1]:
        raise Refused("invalid", "invalid_request", "nps is 0 to 10.", field="nps")
    refusal = _survey_refusal(m, by, round_)
    if refusal is not None:
        raise refusal
    text = comment.strip() if comment else None
    answer = Answer(
        party=by,
        round=round_,
        csat=csat,
        nps=nps,
        comment=text or None,
        share_comment=share_comment and bool(text),
        given_at=now,
    )
    answered = replace(m, answers=(*m.answers, answer))
    events: list[EventPayload] = [
        FeedbackGiven(
            **_about(m),
            given_by=by,
            round=round_,
            csat=csat,
            nps=nps,
            has_comment=answer.comment is not None,
            comment_shared=answer.share_comment,
        )
    ]
    if round_ == "closing" and all(
        answered.answer(side, "closing") is not None for side in ("mentee", "mentor")
    ):
        answered, outcome = _record_outcome(answered, now)
        events += outcome
    return answered, events


def open_surveys(mentorship: Mentorship, party: Party) -> list[FeedbackRound]:
    """The survey rounds `party` can answer now."""
    rounds: tuple[FeedbackRound, ...] = ("first_check_in", "closing")
    return [r for r in rounds if _survey_refusal(mentorship, party, r) is None]


def _survey_refusal(m: Mentorship, party: Party, round_: FeedbackRound) -> Refused | None:
    if m.outcome_recorded_at is not None:
        return Refused(
            "conflict",
            "surveys_closed",
            "The outcome of this mentorship is recorded; the surveys are closed.",
            field="round",
        )
    if round_ == "first_check_in" and m.check_ins == 0:
        return Refused(
            "conflict",
            "survey_not_open",
            "The first survey opens with the first check-in.",
            field="round",
        )
    if round_ == "closing" and m.active:
        return Refused(
            "conflict",
            "survey_not_open",
            "The closing survey opens when the mentorship ends.",
            field="round",
        )
    if m.answer(party, round_) is not None:
        return Refused(
            "conflict",
            "already_answered",
            f"The {party} answered the {round_.replace('_', ' ')} survey already.",
            field="round",
        )
    return None


def reassess(
    mentorship: Mentorship, by: Party, levels: Mapping[str, int], now: datetime
) -> Decision:
    """The mentee gives their current level on some of their gap skills (during the
    mentorship and at its end, until the outcome is recorded)."""
    m = mentorship
    _require_party(by, "mentee", "Only the mentee re-assesses their own levels.")
    if not (m.active or m.open_for_closing):
        raise Refused(
            "conflict",
            "mentorship_closed",
            "The outcome of this mentorship is recorded; levels are no longer taken.",
        )
    gaps = _require_gaps(m)
    known = {s.skill for s in gaps}
    unknown = sorted(set(levels) - known)
    if unknown:
        raise Refused(
            "invalid",
            "invalid_request",
            f"Not a gap skill of this mentorship: {', '.join(unknown)}; "
            f"the gap skills are {', '.join(sorted(known))}.",
            field="levels",
        )
    if not levels:
        raise Refused("invalid", "invalid_request", "Give at least one level.", field="levels")
    updated = tuple(
        replace(s, current=levels[s.skill]) if s.skill in levels else s for s in m.skills
    )
    reassessed = replace(m, skills=updated)
    per_skill, overall = progress(updated)
    return reassessed, [
        SkillsReassessed(
            **_about(m),
            assessed_at=now,
            assessed_skills=sorted(levels),
            skills=per_skill,
            gap_closed_overall=overall or 0.0,
        )
    ]


def progress(skills: Sequence[SkillLevels]) -> tuple[list[SkillProgress], float | None]:
    """Gap closed per skill, and overall as the levels closed over the levels of all gaps
    (a big gap weighs more than a small one); None overall when there is no gap."""
    per_skill = [
        SkillProgress(
            skill=s.skill,
            start=s.start,
            target=s.target,
            current=s.current,
            levels_closed=s.levels_closed,
            gap_closed=s.gap_closed,
        )
        for s in skills
    ]
    total_gap = sum(s.gap for s in skills if s.gap > 0)
    if total_gap == 0:
        return per_skill, None
    return per_skill, sum(s.levels_closed for s in skills) / total_gap


# --- the ending ----------------------------------------------------------------------------


def propose_completion(
    mentorship: Mentorship, by: Party, now: datetime, policy: MentorshipPolicy
) -> Decision:
    """Completed at once when every agreed goal is achieved; otherwise completed when both
    sides asked for it (the first ask is recorded and announced)."""
    m = _require_active(mentorship)
    agreed = [goal for goal in m.goals if goal.status == "agreed"]
    if agreed and all(goal.achieved for goal in agreed):
        return _end(m, "completed", "goals_achieved", by, now, policy)
    if m.completion_proposed_by is not None and m.completion_proposed_by != by:
        return _end(m, "completed", "both_agreed", by, now, policy)
    if m.completion_proposed_by == by:
        raise Refused(
            "conflict",
            "completion_already_proposed",
            f"The {by} proposed completion already; it completes when the other side agrees.",
        )
    return replace(m, completion_proposed_by=by), [
        CompletionProposed(**_about(m), proposed_by=by, proposed_at=now)
    ]


def end_early(
    mentorship: Mentorship, by: Party, reason: str, now: datetime, policy: MentorshipPolicy
) -> Decision:
    m = _require_active(mentorship)
    return _end(m, "ended_early", "requested", by, now, policy, reason=reason.strip())


def end_for_erasure(
    mentorship: Mentorship, leaving: Party, now: datetime, policy: MentorshipPolicy
) -> Decision:
    """One side's profile was deleted: the mentorship ends (if it still ran) and every text
    either side wrote in it is erased, since each may name the other."""
    m = mentorship
    events: list[EventPayload] = []
    if m.active:
        m, events = _end(m, "ended_early", "profile_deleted", leaving, now, policy)
    erased = replace(
        m,
        goals=tuple(
            replace(
                goal,
                title=ERASED,
                milestones=tuple(replace(x, title=ERASED) for x in goal.milestones),
            )
            for goal in m.goals
        ),
        answers=tuple(replace(a, comment=None, share_comment=False) for a in m.answers),
        end_reason=None if m.end_reason is None else ERASED,
    )
    return erased, events


def outcome(mentorship: Mentorship, now: datetime) -> MentorshipOutcomeRecorded:
    """The outcome as the matcher learns from it: each side's latest answer (the closing one
    if given), progress on every gap, what was agreed and achieved."""
    m = mentorship
    if m.ending is None or m.ended_at is None:
        raise ValueError("a mentorship that has not ended has no outcome")
    per_skill, overall = progress(m.skills)
    agreed = [goal for goal in m.goals if goal.status == "agreed"]
    return MentorshipOutcomeRecorded(
        **_about(m),
        ending=m.ending,
        completed=m.ending == "completed",
        started_at=m.started_at,
        ended_at=m.ended_at,
        mentee_feedback=_latest_feedback(m, "mentee"),
        mentor_feedback=_latest_feedback(m, "mentor"),
        skills=per_skill,
        gap_closed_overall=overall,
        check_ins=m.check_ins,
        goals_agreed=len(agreed),
        goals_achieved=sum(1 for goal in agreed if goal.achieved),
    )


def _end(
    m: Mentorship,
    ending: MentorshipEnding,
    cause: EndCause,
    by: Party | None,
    now: datetime,
    policy: MentorshipPolicy,
    *,
    reason: str | None = None,
) -> Decision:
    feedback_due_by = now + policy.closing_window
    status: Status = ending
    ended = replace(
        m,
        status=status,
        ended_at=now,
        ending=ending,
        end_cause=cause,
        ended_by=by,
        end_reason=reason,
        feedback_due_by=feedback_due_by,
    )
    return ended, [
        MentorshipEnded(
            **_about(m),
            ending=ending,
            cause=cause,
            ended_by=by,
            ended_at=now,
            feedback_due_by=feedback_due_by,
        ),
        FeedbackRequested(**_about(m), round="closing", respond_by=feedback_due_by),
    ]


def _record_outcome(m: Mentorship, now: datetime) -> Decision:
    return replace(m, outcome_recorded_at=now), [outcome(m, now)]


def _latest_feedback(m: Mentorship, party: Party) -> SideFeedback | None:
    answer = m.answer(party, "closing") or m.answer(party, "first_check_in")
    if answer is None:
        return None
    return SideFeedback(round=answer.round, csat=answer.csat, nps=answer.nps)


# --- who sees what -------------------------------------------------------------------------


def visible_comment(answer: Answer, viewer: Party | None) -> str | None:
    """The free text of an answer as `viewer` may see it: its author and the operator (None)
    always, the other side only with the author's consent."""
    if viewer is None or viewer == answer.party or answer.share_comment:
        return answer.comment
    return None


# --- program figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class MentorshipFacts:
    """What the program report needs of one mentorship."""

    started_at: datetime
    ended_at: datetime | None
    ending: MentorshipEnding | None
    skills: tuple[SkillLevels, ...]


@dataclass(frozen=True)
class AnswerFacts:
    """What the program report needs of one survey answer."""

    given_at: datetime
    party: Party
    csat: int
    nps: int


@dataclass(frozen=True)
class SurveyFigures:
    answers: int
    csat_median: float | None
    #: Percent promoters (9-10) minus percent detractors (0-6), -100 to 100; None: no answers.
    nps: float | None
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True)
class SkillGapFigures:
    skill: str
    #: Ended mentorships that had this gap.
    mentorships: int
    gap_levels: int
    levels_closed: int
    #: levels_closed / gap_levels.
    gap_closed: float


@dataclass(frozen=True)
class PeriodFigures:
    #: "2026-12" for a month, "2026-01..2026-12" for the whole range.
    period: str
    started: int
    completed: int
    ended_early: int
    lapsed: int
    feedback: SurveyFigures
    feedback_by_side: dict[str, SurveyFigures]
    gap_closed: list[SkillGapFigures]
    #: Levels closed over all gap levels of the mentorships that ended in the period.
    gap_closed_overall: float | None


def month_of(moment: datetime) -> str:
    """The calendar month of a moment in UTC, as "YYYY-MM"."""
    return _utc(moment).strftime("%Y-%m")


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ("YYYY-MM"), both included."""
    year, month = (int(part) for part in first.split("-"))
    end = tuple(int(part) for part in last.split("-"))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def survey_figures(answers: Sequence[AnswerFacts]) -> SurveyFigures:
    promoters = sum(1 for a in answers if a.nps >= 9)
    detractors = sum(1 for a in answers if a.nps <= 6)
    count = len(answers)
    return SurveyFigures(
        answers=count,
        csat_median=float(statistics.median(a.csat for a in answers)) if answers else None,
        nps=round(100.0 * (promoters - detractors) / count, 1) if count else None,
        promoters=promoters,
        passives=count - promoters - detractors,
        detractors=detractors,
    )


def period_figures(
    period: str, mentorships: Sequence[MentorshipFacts], answers: Sequence[AnswerFacts]
) -> PeriodFigures:
    """Figures of one period from the mentorships and answers that belong to it: starts count
    where they started, endings and the gaps closed where they ended, answers where given."""
    in_period = _period_test(period)
    started = [m for m in mentorships if in_period(m.started_at)]
    ended = [m for m in mentorships if m.ended_at is not None and in_period(m.ended_at)]
    given = [a for a in answers if in_period(a.given_at)]
    by_skill: dict[str, list[SkillLevels]] = {}
    for mentorship in ended:
        for skill in mentorship.skills:
            if skill.gap > 0:
                by_skill.setdefault(skill.skill, []).append(skill)
    gaps = [
        SkillGapFigures(
            skill=skill,
            mentorships=len(levels),
            gap_levels=sum(s.gap for s in levels),
            levels_closed=sum(s.levels_closed for s in levels),
            gap_closed=sum(s.levels_closed for s in levels) / sum(s.gap for s in levels),
        )
        for skill, levels in sorted(by_skill.items())
    ]
    total_gap = sum(g.gap_levels for g in gaps)
    return PeriodFigures(
        period=period,
        started=len(started),
        completed=sum(1 for m in ended if m.ending == "completed"),
        ended_early=sum(1 for m in ended if m.ending == "ended_early"),
        lapsed=sum(1 for m in ended if m.ending == "lapsed"),
        feedback=survey_figures(given),
        feedback_by_side={
            side: survey_figures([a for a in given if a.party == side])
            for side in ("mentee", "mentor")
        },
        gap_closed=gaps,
        gap_closed_overall=(sum(g.levels_closed for g in gaps) / total_gap if total_gap else None),
    )


def program_report(
    first_month: str,
    last_month: str,
    mentorships: Sequence[MentorshipFacts],
    answers: Sequence[AnswerFacts],
) -> tuple[list[PeriodFigures], PeriodFigures]:
    """Figures per month from `first_month` to `last_month`, and for the whole range."""
    months = months_between(first_month, last_month)
    per_month = [period_figures(month, mentorships, answers) for month in months]
    return per_month, period_figures(f"{first_month}..{last_month}", mentorships, answers)


# --- helpers -------------------------------------------------------------------------------


def _period_test(period: str) -> Callable[[datetime], bool]:
    first, _, last = period.partition("..")
    last = last or first

    def in_period(moment: datetime) -> bool:
        return first <= month_of(moment) <= last

    return in_period


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _about(m: Mentorship) -> dict[str, uuid.UUID]:
    """The fields every mentorship event starts with."""
    return {
        "mentorship_id": m.id,
        "match_id": m.match_id,
        "mentee_id": m.mentee_id,
        "mentor_id": m.mentor_id,
    }


def _cadence_literal(weeks: int) -> CadenceWeeks:
    if weeks == 1:
        return 1
    if weeks == 2:
        return 2
    if weeks == 4:
        return 4
    raise ValueError(f"not a cadence: {weeks} weeks")


def _with_goal(m: Mentorship, goal: Goal) -> Mentorship:
    return replace(m, goals=tuple(goal if g.id == goal.id else g for g in m.goals))


def _require_active(m: Mentorship) -> Mentorship:
    if not m.active:
        raise Refused(
            "conflict",
            "mentorship_ended",
            f"This mentorship has ended ({(m.ending or m.status).replace('_', ' ')}).",
        )
    return m


def _require_party(by: Party, needed: Party, message: str) -> None:
    if by != needed:
        raise Refused("forbidden", "wrong_side", message)


def _require_gaps(m: Mentorship) -> tuple[SkillLevels, ...]:
    if not m.skills:
        raise Refused(
            "conflict",
            "gaps_not_known_yet",
            "The mentee's skill gaps have not reached this service yet (their profile is on "
            "its way); try again in a few seconds.",
        )
    return m.skills

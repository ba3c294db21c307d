"""The mentorship aggregate, its schedule, progress and program figures: values in, values out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mentorship_service import domain
from mentorship_service.domain import (
    AnswerFacts,
    Mentorship,
    MentorshipFacts,
    MentorshipPolicy,
    NewMilestone,
    Refused,
    SkillLevels,
)
from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import (
    CheckInCadenceChanged,
    CheckInLogged,
    CheckInMissed,
    CheckInReminderIssued,
    CompletionProposed,
    FeedbackGiven,
    FeedbackRequested,
    GoalAchieved,
    GoalAgreed,
    GoalProposed,
    MenteeSkill,
    MentorshipEnded,
    MentorshipOutcomeRecorded,
    MentorshipStarted,
    SkillsReassessed,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = MentorshipPolicy(reminder_lead=timedelta(days=2), closing_window=timedelta(days=14))
PRICING = "pricing_monetisation"
STRATEGY = "product_strategy"
COMMS = "stakeholder_communication"
GAPS = (
    SkillLevels(PRICING, start=1, target=4, current=1),
    SkillLevels(STRATEGY, start=2, target=4, current=2),
)


def started(**changes: object) -> Mentorship:
    mentorship, _ = domain.start(
        mentorship_id=uuid.uuid4(),
        match_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        now=T0,
        skills=GAPS,
    )
    return replace(mentorship, **changes)  # type: ignore[arg-type]


def types(events: list[EventPayload]) -> list[str]:
    return [event.event_type for event in events]


def with_agreed_goal(m: Mentorship) -> tuple[Mentorship, uuid.UUID]:
    goal_id = uuid.uuid4()
    m, _ = domain.propose_goal(
        m, "mentee", goal_id=goal_id, skill=PRICING, title="Price feature X", milestones=[], now=T0
    )
    m, _ = domain.agree_goal(m, "mentor", goal_id, T0)
    return m, goal_id


# --- starting --------------------------------------------------------------------------------


def test_a_mentorship_starts_with_the_default_cadence_and_its_first_check_in_due() -> None:
    ids = {name: uuid.uuid4() for name in ("mentorship_id", "match_id", "mentee_id", "mentor_id")}
    m, events = domain.start(**ids, now=T0, skills=GAPS)
    assert (m.status, m.cadence_weeks, m.check_ins) == ("active", 2, 0)
    assert events == [
        MentorshipStarted(
            **ids, started_at=T0, cadence_weeks=2, next_check_in_due=T0 + timedelta(weeks=2)
        )
    ]


def test_the_gaps_are_the_skills_whose_target_is_above_the_current_level() -> None:
    gaps = domain.gap_skills(
        [
            MenteeSkill(skill=PRICING, current=1, target=4),
            MenteeSkill(skill=STRATEGY, current=3, target=3),
            MenteeSkill(skill=COMMS, current=2, target=3),
        ]
    )
    assert gaps == (
        SkillLevels(PRICING, start=1, target=4, current=1),
        SkillLevels(COMMS, start=2, target=3, current=2),
    )


def test_a_baseline_is_set_once_and_then_stays() -> None:
    m = started(skills=())
    with_gaps = domain.with_baseline(m, GAPS)
    assert with_gaps.skills == GAPS
    later = (SkillLevels(COMMS, start=0, target=5, current=0),)
    assert domain.with_baseline(with_gaps, later).skills == GAPS


# --- goals -----------------------------------------------------------------------------------


def test_the_mentee_proposes_and_the_mentor_agrees() -> None:
    m = started()
    goal_id = uuid.uuid4()
    milestone = NewMilestone(uuid.uuid4(), "Draft the pricing page", date(2026, 4, 1))
    m, proposed = domain.propose_goal(
        m,
        "mentee",
        goal_id=goal_id,
        skill=PRICING,
        title="Price feature X",
        milestones=[milestone],
        now=T0,
    )
    assert isinstance(proposed[0], GoalProposed)
    assert (proposed[0].skill, proposed[0].milestones) == (PRICING, 1)
    assert m.goal(goal_id).status == "proposed"
    later = T0 + timedelta(hours=3)
    m, agreed = domain.agree_goal(m, "mentor", goal_id, later)
    assert m.goal(goal_id).status == "agreed"
    assert agreed == [
        GoalAgreed(
            mentorship_id=m.id,
            match_id=m.match_id,
            mentee_id=m.mentee_id,
            mentor_id=m.mentor_id,
            goal_id=goal_id,
            skill=PRICING,
            title="Price feature X",
            agreed_at=later,
        )
    ]


def test_only_the_mentee_proposes_and_only_the_mentor_agrees() -> None:
    m = started()
    with pytest.raises(Refused) as refused:
        domain.propose_goal(
            m, "mentor", goal_id=uuid.uuid4(), skill=PRICING, title="x", milestones=[], now=T0
        )
    assert refused.value.kind == "forbidden"
    goal_id = uuid.uuid4()
    m, _ = domain.propose_goal(
        m, "mentee", goal_id=goal_id, skill=PRICING, title="x", milestones=[], now=T0
    )
    with pytest.raises(Refused) as refused:
        domain.agree_goal(m, "mentee", goal_id, T0)
    assert refused.value.kind == "forbidden"


def test_a_goal_works_on_one_of_the_mentees_gaps() -> None:
    with pytest.raises(Refused) as refused:
        domain.propose_goal(
            started(), "mentee", goal_id=uuid.uuid4(), skill=COMMS, title="x", milestones=[], now=T0
        )
    assert (refused.value.kind, refused.value.field) == ("invalid", "skill")


def test_goals_wait_for_the_gaps_to_be_known() -> None:
    with pytest.raises(Refused) as refused:
        domain.propose_goal(
            started(skills=()),
            "mentee",
            goal_id=uuid.uuid4(),
            skill=PRICING,
            title="x",
            milestones=[],
            now=T0,
        )
    assert (refused.value.kind, refused.value.code) == ("conflict", "gaps_not_known_yet")


def test_at_most_five_goals_and_a_withdrawn_one_frees_its_place() -> None:
    m = started()
    ids = []
    for n in range(domain.MAX_GOALS):
        goal_id = uuid.uuid4()
        ids.append(goal_id)
        m, _ = domain.propose_goal(
            m, "mentee", goal_id=goal_id, skill=PRICING, title=f"goal {n}", milestones=[], now=T0
        )
    assert sorted(g.position for g in m.goals) == [1, 2, 3, 4, 5]
    with pytest.raises(Refused) as refused:
        domain.propose_goal(
            m, "mentee", goal_id=uuid.uuid4(), skill=PRICING, title="six", milestones=[], now=T0
        )
    assert (refused.value.code, refused.value.field) == ("too_many_goals", "goals")
    m, events = domain.withdraw_goal(m, "mentor", ids[2])
    assert events == []
    m, _ = domain.propose_goal(
        m, "mentee", goal_id=uuid.uuid4(), skill=STRATEGY, title="again", milestones=[], now=T0
    )
    assert sorted(g.position for g in m.goals) == [1, 2, 3, 4, 5]


def test_an_agreed_goal_cannot_be_withdrawn_but_can_be_achieved_once() -> None:
    m, goal_id = with_agreed_goal(started())
    with pytest.raises(Refused):
        domain.withdraw_goal(m, "mentee", goal_id)
    m, events = domain.achieve_goal(m, "mentor", goal_id, T0)
    assert isinstance(events[0], GoalAchieved)
    assert events[0].achieved_by == "mentor"
    with pytest.raises(Refused) as refused:
        domain.achieve_goal(m, "mentee", goal_id, T0)
    assert refused.value.code == "goal_already_achieved"


def test_a_proposed_goal_is_not_achieved_before_it_is_agreed() -> None:
    m = started()
    goal_id = uuid.uuid4()
    m, _ = domain.propose_goal(
        m, "mentee", goal_id=goal_id, skill=PRICING, title="x", milestones=[], now=T0
    )
    with pytest.raises(Refused) as refused:
        domain.achieve_goal(m, "mentee", goal_id, T0)
    assert refused.value.code == "goal_not_agreed"


def test_milestones_are_added_up_to_ten_and_marked_done_and_undone() -> None:
    m, goal_id = with_agreed_goal(started())
    first = NewMilestone(uuid.uuid4(), "step", date(2026, 4, 1))
    m = domain.add_milestone(m, goal_id, first)
    for _ in range(domain.MAX_MILESTONES_PER_GOAL - 1):
        m = domain.add_milestone(m, goal_id, NewMilestone(uuid.uuid4(), "s", date(2026, 4, 2)))
    with pytest.raises(Refused):
        domain.add_milestone(m, goal_id, NewMilestone(uuid.uuid4(), "s", date(2026, 4, 2)))
    m = domain.mark_milestone(m, goal_id, first.id, done=True, now=T0)
    assert m.goal(goal_id).milestones[0].done_at == T0
    m = domain.mark_milestone(m, goal_id, first.id, done=False, now=T0)
    assert not m.goal(goal_id).milestones[0].done
    with pytest.raises(Refused) as refused:
        domain.mark_milestone(m, goal_id, uuid.uuid4(), done=True, now=T0)
    assert refused.value.kind == "not_found"


# --- the schedule ----------------------------------------------------------------------------


def test_the_schedule_of_a_two_week_cadence() -> None:
    m = started()
    assert domain.next_check_in_due(m) == T0 + timedelta(days=14)
    assert domain.reminder_at(m, POLICY) == T0 + timedelta(days=12)
    assert domain.nudge_at(m) == T0 + timedelta(days=21)
    assert domain.lapse_at(m) == T0 + timedelta(days=28)
    assert domain.wake_at(m, POLICY) == T0 + timedelta(days=12)


def test_a_lead_longer_than_the_cadence_reminds_at_the_anchor_at_the_earliest() -> None:
    m = started(cadence_weeks=1)
    long_lead = MentorshipPolicy(reminder_lead=timedelta(days=10))
    assert domain.reminder_at(m, long_lead) == T0


def test_one_reminder_then_one_nudge_then_the_lapse() -> None:
    m = started()
    nothing_yet, events = domain.tick(m, T0 + timedelta(days=11), POLICY)
    assert (nothing_yet, events) == (m, [])

    m, events = domain.tick(m, T0 + timedelta(days=12), POLICY)
    assert events == [
        CheckInReminderIssued(
            mentorship_id=m.id,
            match_id=m.match_id,
            mentee_id=m.mentee_id,
            mentor_id=m.mentor_id,
            check_in_number=1,
            due_at=T0 + timedelta(days=14),
        )
    ]
    again, events = domain.tick(m, T0 + timedelta(days=13), POLICY)
    assert (again, events) == (m, [])
    assert domain.wake_at(m, POLICY) == T0 + timedelta(days=21)

    m, events = domain.tick(m, T0 + timedelta(days=21), POLICY)
    assert types(events) == ["CheckInMissed"]
    assert isinstance(events[0], CheckInMissed)
    assert events[0].lapses_at == T0 + timedelta(days=28)
    _, events = domain.tick(m, T0 + timedelta(days=22), POLICY)
    assert events == []

    m, events = domain.tick(m, T0 + timedelta(days=28), POLICY)
    assert types(events) == ["MentorshipEnded", "FeedbackRequested"]
    assert isinstance(events[0], MentorshipEnded)
    assert (events[0].ending, events[0].cause, events[0].ended_by) == (
        "lapsed",
        "no_check_in",
        None,
    )
    assert (m.status, m.ending) == ("lapsed", "lapsed")
    assert domain.wake_at(m, POLICY) == T0 + timedelta(days=28 + 14)


def test_after_an_outage_only_the_furthest_due_step_happens() -> None:
    m = started()
    nudged, events = domain.tick(m, T0 + timedelta(days=25), POLICY)
    assert types(events) == ["CheckInMissed"]
    assert domain.tick(nudged, T0 + timedelta(days=26), POLICY)[1] == []
    lapsed, events = domain.tick(m, T0 + timedelta(days=60), POLICY)
    assert types(events) == ["MentorshipEnded", "FeedbackRequested"]
    assert lapsed.status == "lapsed"


def test_a_check_in_starts_the_schedule_again_and_the_first_one_opens_the_survey() -> None:
    m, _ = domain.tick(started(), T0 + timedelta(days=12), POLICY)
    at = T0 + timedelta(days=13)
    m, events = domain.log_check_in(m, "mentor", at)
    assert types(events) == ["CheckInLogged", "FeedbackRequested"]
    assert isinstance(events[0], CheckInLogged)
    assert (events[0].check_in_number, events[0].next_check_in_due) == (1, at + timedelta(14))
    assert isinstance(events[1], FeedbackRequested)
    assert events[1].round == "first_check_in"
    assert domain.wake_at(m, POLICY) == at + timedelta(days=12)
    m, events = domain.tick(m, at + timedelta(days=12), POLICY)
    assert isinstance(events[0], CheckInReminderIssued)
    assert events[0].check_in_number == 2
    m, events = domain.log_check_in(m, "mentee", at + timedelta(days=14))
    assert types(events) == ["CheckInLogged"]


def test_a_new_cadence_counts_from_the_change() -> None:
    m = started()
    at = T0 + timedelta(days=20)
    m, events = domain.change_cadence(m, "mentee", 4, at)
    assert events == [
        CheckInCadenceChanged(
            mentorship_id=m.id,
            match_id=m.match_id,
            mentee_id=m.mentee_id,
            mentor_id=m.mentor_id,
            cadence_weeks=4,
            changed_by="mentee",
            next_check_in_due=at + timedelta(weeks=4),
        )
    ]
    assert domain.lapse_at(m) == at + timedelta(weeks=8)
    assert domain.change_cadence(m, "mentor", 4, at) == (m, [])
    with pytest.raises(Refused) as refused:
        domain.change_cadence(m, "mentor", 3, at)
    assert refused.value.field == "weeks"


@given(
    weeks=st.sampled_from(domain.CADENCES_WEEKS),
    lead_hours=st.integers(1, 24 * 40),
    steps=st.lists(st.integers(1, 24 * 7), min_size=1, max_size=40),
)
def test_time_alone_never_reminds_or_nudges_twice_for_one_check_in(
    weeks: int, lead_hours: int, steps: list[int]
) -> None:
    policy = MentorshipPolicy(reminder_lead=timedelta(hours=lead_hours))
    m = started(cadence_weeks=weeks)
    now = T0
    seen: list[str] = []
    for hours in steps:
        now += timedelta(hours=hours)
        wake = domain.wake_at(m, policy)
        m, events = domain.tick(m, now, policy)
        # Nothing happens before the moment the scheduler is told to wake.
        assert not events or (wake is not None and now >= wake)
        seen += [f"{event.event_type}#{getattr(event, 'check_in_number', '')}" for event in events]
    assert len(seen) == len(set(seen))


# --- surveys ---------------------------------------------------------------------------------


def test_the_first_survey_opens_with_the_first_check_in() -> None:
    m = started()
    with pytest.raises(Refused) as refused:
        domain.give_feedback(
            m,
            "mentee",
            round_="first_check_in",
            csat=4,
            nps=9,
            comment=None,
            share_comment=False,
            now=T0,
        )
    assert (refused.value.code, refused.value.field) == ("survey_not_open", "round")
    m, _ = domain.log_check_in(m, "mentee", T0)
    m, events = domain.give_feedback(
        m,
        "mentee",
        round_="first_check_in",
        csat=4,
        nps=9,
        comment="  Very helpful on pricing.  ",
        share_comment=True,
        now=T0,
    )
    assert isinstance(events[0], FeedbackGiven)
    assert (events[0].has_comment, events[0].comment_shared) == (True, True)
    answer = m.answer("mentee", "first_check_in")
    assert answer is not None
    assert answer.comment == "Very helpful on pricing."
    with pytest.raises(Refused) as refused:
        domain.give_feedback(
            m,
            "mentee",
            round_="first_check_in",
            csat=5,
            nps=10,
            comment=None,
            share_comment=False,
            now=T0,
        )
    assert refused.value.code == "already_answered"


@pytest.mark.parametrize(("csat", "nps", "field"), [(0, 5, "csat"), (6, 5, "csat"), (3, 11, "nps")])
def test_scores_out_of_range_are_refused(csat: int, nps: int, field: str) -> None:
    m, _ = domain.log_check_in(started(), "mentee", T0)
    with pytest.raises(Refused) as refused:
        domain.give_feedback(
            m,
            "mentor",
            round_="first_check_in",
            csat=csat,
            nps=nps,
            comment=None,
            share_comment=False,
            now=T0,
        )
    assert (refused.value.kind, refused.value.field) == ("invalid", field)


def test_the_free_text_reaches_the_other_side_only_with_consent() -> None:
    m, _ = domain.log_check_in(started(), "mentee", T0)
    m, _ = domain.give_feedback(
        m,
        "mentor",
        round_="first_check_in",
        csat=3,
        nps=6,
        comment="Needs to prepare more.",
        share_comment=False,
        now=T0,
    )
    answer = m.answer("mentor", "first_check_in")
    assert answer is not None
    assert domain.visible_comment(answer, "mentee") is None
    assert domain.visible_comment(answer, "mentor") == "Needs to prepare more."
    assert domain.visible_comment(answer, None) == "Needs to prepare more."
    assert domain.visible_comment(replace(answer, share_comment=True), "mentee") == (
        "Needs to prepare more."
    )


def test_consent_without_a_comment_is_no_consent() -> None:
    m, _ = domain.log_check_in(started(), "mentee", T0)
    m, events = domain.give_feedback(
        m,
        "mentor",
        round_="first_check_in",
        csat=3,
        nps=6,
        comment="   ",
        share_comment=True,
        now=T0,
    )
    assert isinstance(events[0], FeedbackGiven)
    assert (events[0].has_comment, events[0].comment_shared) == (False, False)


def test_the_closing_survey_opens_at_the_end_and_both_answers_record_the_outcome() -> None:
    m, _ = domain.log_check_in(started(), "mentee", T0)
    closing = {"round_": "closing", "comment": None, "share_comment": False} | {"now": T0}
    with pytest.raises(Refused):
        domain.give_feedback(m, "mentee", csat=5, nps=10, **closing)  # type: ignore[arg-type]
    m, _ = domain.end_early(m, "mentor", "Changed jobs.", T0, POLICY)
    m, events = domain.give_feedback(m, "mentee", csat=2, nps=5, **closing)  # type: ignore[arg-type]
    assert types(events) == ["FeedbackGiven"]
    m, events = domain.give_feedback(m, "mentor", csat=4, nps=8, **closing)  # type: ignore[arg-type]
    assert types(events) == ["FeedbackGiven", "MentorshipOutcomeRecorded"]
    assert m.outcome_recorded_at == T0
    assert domain.wake_at(m, POLICY) is None
    with pytest.raises(Refused) as refused:
        domain.give_feedback(
            m,
            "mentee",
            round_="first_check_in",
            csat=5,
            nps=10,
            comment=None,
            share_comment=False,
            now=T0,
        )
    assert refused.value.code == "surveys_closed"


# --- progress --------------------------------------------------------------------------------


def test_progress_is_the_gap_closed_per_skill_and_overall_weighted_by_gap() -> None:
    skills = [
        SkillLevels(PRICING, start=1, target=4, current=3),  # 2 of 3
        SkillLevels(STRATEGY, start=2, target=4, current=4),  # 2 of 2
        SkillLevels(COMMS, start=2, target=3, current=1),  # went down: 0 of 1
    ]
    per_skill, overall = domain.progress(skills)
    assert [(p.skill, p.levels_closed) for p in per_skill] == [
        (PRICING, 2),
        (STRATEGY, 2),
        (COMMS, 0),
    ]
    assert per_skill[0].gap_closed == pytest.approx(2 / 3)
    assert per_skill[1].gap_closed == 1.0
    assert per_skill[2].gap_closed == 0.0
    assert overall == pytest.approx(4 / 6)
    assert domain.progress([]) == ([], None)


def test_going_past_the_target_closes_the_gap_and_no_more() -> None:
    assert SkillLevels(PRICING, start=1, target=3, current=5).levels_closed == 2


def test_the_mentee_reassesses_gap_skills_only() -> None:
    m = started()
    m, events = domain.reassess(m, "mentee", {PRICING: 3}, T0)
    assert isinstance(events[0], SkillsReassessed)
    assert events[0].assessed_skills == [PRICING]
    assert events[0].gap_closed_overall == pytest.approx(2 / 5)
    assert {s.skill: s.current for s in m.skills} == {PRICING: 3, STRATEGY: 2}
    with pytest.raises(Refused) as refused:
        domain.reassess(m, "mentee", {COMMS: 3}, T0)
    assert refused.value.field == "levels"
    with pytest.raises(Refused) as refused:
        domain.reassess(m, "mentor", {PRICING: 4}, T0)
    assert refused.value.kind == "forbidden"


def test_the_last_reassessment_is_taken_after_the_end_until_the_outcome() -> None:
    m, _ = domain.end_early(started(), "mentee", "Moved teams.", T0, POLICY)
    m, events = domain.reassess(m, "mentee", {STRATEGY: 4}, T0 + timedelta(days=3))
    assert types(events) == ["SkillsReassessed"]
    m, events = domain.tick(m, T0 + timedelta(days=14), POLICY)
    assert isinstance(events[0], MentorshipOutcomeRecorded)
    assert events[0].gap_closed_overall == pytest.approx(2 / 5)
    with pytest.raises(Refused):
        domain.reassess(m, "mentee", {STRATEGY: 3}, T0 + timedelta(days=15))


# --- the ending ------------------------------------------------------------------------------


def test_completion_is_immediate_when_every_agreed_goal_is_achieved() -> None:
    m, goal_id = with_agreed_goal(started())
    m, _ = domain.achieve_goal(m, "mentee", goal_id, T0)
    m, events = domain.propose_completion(m, "mentor", T0, POLICY)
    assert types(events) == ["MentorshipEnded", "FeedbackRequested"]
    assert isinstance(events[0], MentorshipEnded)
    assert (events[0].ending, events[0].cause, events[0].ended_by) == (
        "completed",
        "goals_achieved",
        "mentor",
    )
    assert m.feedback_due_by == T0 + timedelta(days=14)


def test_otherwise_completion_needs_both_sides() -> None:
    m, _ = with_agreed_goal(started())
    m, events = domain.propose_completion(m, "mentee", T0, POLICY)
    assert isinstance(events[0], CompletionProposed)
    assert m.active
    with pytest.raises(Refused) as refused:
        domain.propose_completion(m, "mentee", T0, POLICY)
    assert refused.value.code == "completion_already_proposed"
    m, events = domain.propose_completion(m, "mentor", T0, POLICY)
    assert isinstance(events[0], MentorshipEnded)
    assert (events[0].ending, events[0].cause) == ("completed", "both_agreed")


def test_an_ended_mentorship_takes_no_more_check_ins_goals_or_endings() -> None:
    m, _ = domain.end_early(started(), "mentee", "No time.", T0, POLICY)
    assert (m.status, m.ended_by, m.end_reason) == ("ended_early", "mentee", "No time.")
    for attempt in (
        lambda: domain.log_check_in(m, "mentee", T0),
        lambda: domain.end_early(m, "mentor", "x", T0, POLICY),
        lambda: domain.propose_completion(m, "mentor", T0, POLICY),
        lambda: domain.change_cadence(m, "mentor", 1, T0),
    ):
        with pytest.raises(Refused) as refused:
            attempt()
        assert refused.value.code == "mentorship_ended"


def test_an_erasure_ends_the_mentorship_and_erases_every_text_in_it() -> None:
    m, goal_id = with_agreed_goal(started())
    m = domain.add_milestone(m, goal_id, NewMilestone(uuid.uuid4(), "Call Ada", date(2026, 4, 1)))
    m, _ = domain.log_check_in(m, "mentee", T0)
    m, _ = domain.give_feedback(
        m,
        "mentee",
        round_="first_check_in",
        csat=4,
        nps=9,
        comment="Grace is great",
        share_comment=True,
        now=T0,
    )
    erased, events = domain.end_for_erasure(m, "mentor", T0, POLICY)
    assert isinstance(events[0], MentorshipEnded)
    assert (events[0].ending, events[0].cause, events[0].ended_by) == (
        "ended_early",
        "profile_deleted",
        "mentor",
    )
    goal = erased.goal(goal_id)
    assert goal.title == domain.ERASED
    assert goal.milestones[0].title == domain.ERASED
    answer = erased.answer("mentee", "first_check_in")
    assert answer is not None
    assert (answer.comment, answer.csat) == (None, 4)
    # An ended mentorship is erased without a second ending.
    again, events = domain.end_for_erasure(erased, "mentee", T0, POLICY)
    assert events == []
    assert again.ending == "ended_early"


def test_the_outcome_carries_each_sides_latest_answer_and_the_progress() -> None:
    m, goal_id = with_agreed_goal(started())
    m, _ = domain.achieve_goal(m, "mentee", goal_id, T0)
    m, _ = domain.log_check_in(m, "mentee", T0)
    first = {"round_": "first_check_in", "comment": None, "share_comment": False, "now": T0}
    m, _ = domain.give_feedback(m, "mentee", csat=3, nps=7, **first)  # type: ignore[arg-type]
    m, _ = domain.give_feedback(m, "mentor", csat=4, nps=9, **first)  # type: ignore[arg-type]
    m, _ = domain.reassess(m, "mentee", {PRICING: 4}, T0)
    m, _ = domain.propose_completion(m, "mentee", T0, POLICY)
    m, _ = domain.give_feedback(
        m,
        "mentee",
        round_="closing",
        csat=5,
        nps=10,
        comment=None,
        share_comment=False,
        now=T0,
    )
    outcome = domain.outcome(m, T0)
    assert outcome.completed
    assert outcome.ending == "completed"
    assert outcome.mentee_feedback is not None
    assert outcome.mentee_feedback.round == "closing"
    assert (outcome.mentee_feedback.csat, outcome.mentee_feedback.nps) == (5, 10)
    assert outcome.mentor_feedback is not None
    assert outcome.mentor_feedback.round == ("first_check_in")
    assert (outcome.goals_agreed, outcome.goals_achieved, outcome.check_ins) == (1, 1, 1)
    assert outcome.gap_closed_overall == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="not ended"):
        domain.outcome(started(), T0)


# --- program figures -------------------------------------------------------------------------


def at(month: int, day: int = 10) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def test_nps_is_percent_promoters_minus_percent_detractors() -> None:
    answers = [
        AnswerFacts(at(1), "mentee", csat=c, nps=n) for c, n in [(5, 10), (4, 9), (3, 8), (2, 3)]
    ]
    figures = domain.survey_figures(answers)
    assert (figures.promoters, figures.passives, figures.detractors) == (2, 1, 1)
    assert figures.nps == 25.0
    assert figures.csat_median == 3.5
    empty = domain.survey_figures([])
    assert (empty.answers, empty.nps, empty.csat_median) == (0, None, None)


def test_months_between_crosses_years() -> None:
    assert domain.months_between("2025-11", "2026-02") == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert domain.months_between("2026-03", "2026-03") == ["2026-03"]


def test_the_program_report_counts_starts_endings_answers_and_gaps_by_month() -> None:
    gap = (SkillLevels(PRICING, start=1, target=4, current=3),)
    mentorships = [
        MentorshipFacts(at(1), at(2), "completed", gap),
        MentorshipFacts(at(1), at(3), "lapsed", (SkillLevels(PRICING, 2, 4, 2),)),
        MentorshipFacts(at(2), at(2, 20), "ended_early", ()),
        MentorshipFacts(at(2), None, None, gap),
    ]
    answers = [
        AnswerFacts(at(2), "mentee", csat=5, nps=10),
        AnswerFacts(at(2), "mentor", csat=3, nps=4),
        AnswerFacts(at(3), "mentee", csat=4, nps=9),
    ]
    months, total = domain.program_report("2026-01", "2026-03", mentorships, answers)
    assert [m.period for m in months] == ["2026-01", "2026-02", "2026-03"]
    january, february, march = months
    assert (january.started, january.completed, january.feedback.answers) == (2, 0, 0)
    assert (february.started, february.completed, february.ended_early) == (2, 1, 1)
    assert february.feedback.nps == 0.0
    assert february.feedback_by_side["mentee"].nps == 100.0
    assert [(g.skill, g.levels_closed, g.gap_levels) for g in february.gap_closed] == [
        (PRICING, 2, 3)
    ]
    assert february.gap_closed_overall == pytest.approx(2 / 3)
    assert (march.lapsed, march.gap_closed[0].gap_closed) == (1, 0.0)
    assert total.period == "2026-01..2026-03"
    assert (total.started, total.completed, total.ended_early, total.lapsed) == (4, 1, 1, 1)
    assert total.feedback.answers == 3
    assert total.gap_closed_overall == pytest.approx(2 / 5)


def test_the_open_surveys_follow_the_check_ins_the_end_and_the_answers() -> None:
    m = started()
    assert domain.open_surveys(m, "mentee") == []
    m, _ = domain.log_check_in(m, "mentor", T0)
    assert domain.open_surveys(m, "mentee") == ["first_check_in"]
    m, _ = domain.give_feedback(
        m,
        "mentee",
        round_="first_check_in",
        csat=4,
        nps=8,
        comment=None,
        share_comment=False,
        now=T0,
    )
    assert domain.open_surveys(m, "mentee") == []
    assert domain.open_surveys(m, "mentor") == ["first_check_in"]
    m, _ = domain.end_early(m, "mentor", "Moving abroad.", T0, POLICY)
    assert domain.open_surveys(m, "mentee") == ["closing"]
    assert domain.open_surveys(m, "mentor") == ["first_check_in", "closing"]
    m, _ = domain.tick(m, T0 + timedelta(days=14), POLICY)
    assert domain.open_surveys(m, "mentor") == []

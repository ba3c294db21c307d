"""The matcher's use cases after the match and where no mentor fits, with an in-memory store and
a recording sink: learning plans issued once per version, a mentorship's end concluding its
match and freeing the slot exactly once, outcomes kept once. The same flows against PostgreSQL
and the broker are in tests/integration/matching/test_plans_and_outcomes.py."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from matching_service.directory import MentorDirectory
from matching_service.match import Match, MatchStatus
from matching_service.matcher.learning import resources_for
from matching_service.matcher.scoring import default_config
from matching_service.policy import MatchPolicy
from matching_service.use_cases.answers import accept_match
from matching_service.use_cases.common import Matchmaker, MatchNotFound
from matching_service.use_cases.mentorships import conclude_match, record_outcome
from matching_service.use_cases.plans import plan_of
from matching_service.use_cases.profiles import forget_profile, record_mentee, record_mentor
from matching_service.use_cases.rounds import run_round
from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import (
    LearningPlanIssued,
    MatchConcluded,
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    MentorshipEnded,
    MentorshipOutcomeRecorded,
    ProfileDeleted,
    SideFeedback,
    SkillProgress,
)

from tests.support.fakes import RecordingSink
from tests.support.matching_store import FakeMatchingStore
from tests.support.profiles import mentee, mentor

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
METRICS = "product_metrics"
ONLINE = MatchPolicy(proposal_ttl=timedelta(days=7), waiting_mentees_per_event=100)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

E = TypeVar("E", bound=EventPayload)


@pytest.fixture
def store() -> FakeMatchingStore:
    return FakeMatchingStore()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


def matchmaker(policy: MatchPolicy = ONLINE) -> Matchmaker:
    return Matchmaker(policy, MentorDirectory(default_config()))


async def record(
    store: FakeMatchingStore, sink: RecordingSink, *profiles: MenteeProfile | MentorProfile
) -> None:
    for profile in profiles:
        if isinstance(profile, MenteeProfile):
            await record_mentee(store, sink, matchmaker(), profile)
        else:
            await record_mentor(store, sink, matchmaker(), profile)


def published(sink: RecordingSink, kind: type[E]) -> list[E]:
    return [event for event in sink.published if isinstance(event, kind)]


# --- learning plans ---------------------------------------------------------------------------


async def test_a_mentee_nobody_suits_gets_a_plan_for_every_gap_once(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4), METRICS: (3, 4), STAKEHOLDERS: (2, 2)})
    await record(store, sink, mentor({PRICING: 5}, languages=("de",)), engineer)

    [plan] = published(sink, LearningPlanIssued)
    assert (plan.mentee_id, plan.plan_version, plan.resources_version) == (
        engineer.profile_id,
        1,
        1,
    )
    assert [(g.skill, g.current, g.target) for g in plan.gaps] == [(PRICING, 1, 4), (METRICS, 3, 4)]
    assert [r.id for r in plan.gaps[0].resources] == [r.id for r in resources_for(PRICING)]

    # Trying again (a new mentor who does not fit either, a redelivered registration) finds
    # nobody again, and the same plan is not sent twice.
    await record(store, sink, mentor({PRICING: 5}, languages=("fr",)))
    await record_mentee(store, sink, matchmaker(), engineer.model_copy(update={"version": 2}))
    assert len(published(sink, LearningPlanIssued)) == 1


async def test_changed_gaps_make_a_new_plan_version(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4)})
    await record(store, sink, engineer)
    changed = engineer.model_copy(
        update={"version": 2, "skills": [*engineer.skills, *mentee({METRICS: (0, 4)}).skills]}
    )

    await record_mentee(store, sink, matchmaker(), changed)

    first, second = published(sink, LearningPlanIssued)
    assert (first.plan_version, second.plan_version) == (1, 2)
    assert [g.skill for g in second.gaps] == [METRICS, PRICING]


async def test_a_mentee_without_a_gap_gets_no_plan(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    await record(store, sink, mentee({PRICING: (4, 4)}))

    assert sink.published == []


async def test_a_round_gives_a_plan_to_those_no_mentor_suits_at_all(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    cohort = Matchmaker(
        dataclasses.replace(ONLINE, mode="cohort"), MentorDirectory(default_config())
    )
    german = mentor({PRICING: 5}, languages=("de",))
    fits, nobody = mentee({PRICING: (1, 4)}, languages=("de",)), mentee({PRICING: (1, 4)})
    for profile in (german, fits, nobody):
        if isinstance(profile, MenteeProfile):
            await record_mentee(store, sink, cohort, profile)
        else:
            await record_mentor(store, sink, cohort, profile)
    assert sink.published == []  # in cohort mode mentees wait for the round

    await run_round(store, sink, cohort)

    [proposed] = published(sink, MatchProposed)
    assert proposed.mentee_id == fits.profile_id
    [plan] = published(sink, LearningPlanIssued)
    assert plan.mentee_id == nobody.profile_id


async def test_the_plan_marks_what_the_current_mentor_covers(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    pricing = mentor({PRICING: 5, METRICS: 2})
    engineer = mentee({PRICING: (1, 4), METRICS: (1, 4)})
    await record(store, sink, pricing, engineer)
    [match] = store.matches.values()

    plan = await plan_of(store, matchmaker(), engineer.profile_id)

    assert plan.match == match
    assert [(g.skill, g.covered_by_mentor, len(g.resources)) for g in plan.gaps] == [
        (PRICING, True, 0),
        (METRICS, False, 3),
    ]
    assert plan.last_issued is None  # a mentor was found: no plan was mailed
    with pytest.raises(MatchNotFound):
        await plan_of(store, matchmaker(), uuid.uuid4())


async def test_without_a_mentor_every_gap_has_resources_and_the_mailed_version_is_named(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4), METRICS: (1, 4)})
    await record(store, sink, engineer)

    plan = await plan_of(store, matchmaker(), engineer.profile_id)

    assert plan.match is None
    assert all(not g.covered_by_mentor and len(g.resources) == 3 for g in plan.gaps)
    assert plan.last_issued is not None
    assert plan.last_issued.version == 1


async def test_an_erased_mentee_s_plans_are_forgotten(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4)})
    await record(store, sink, engineer)

    await forget_profile(
        store,
        sink,
        matchmaker(),
        ProfileDeleted(profile_id=engineer.profile_id, kind="mentee", version=2),
    )

    assert engineer.profile_id not in store.plans


# --- a mentorship ends -----------------------------------------------------------------------


async def accepted_match(
    store: FakeMatchingStore,
    sink: RecordingSink,
    the_mentor: MentorProfile,
    engineer: MenteeProfile,
) -> Match:
    await record(store, sink, the_mentor, engineer)
    match = await store.open_match(engineer.profile_id)
    assert match is not None
    await accept_match(store, sink, match.id, "mentee")
    return await accept_match(store, sink, match.id, "mentor")


def ended(match: Match, ending: str = "completed") -> MentorshipEnded:
    return MentorshipEnded(
        mentorship_id=uuid.uuid4(),
        match_id=match.id,
        mentee_id=match.mentee_id,
        mentor_id=match.mentor_id,
        ending=ending,  # type: ignore[arg-type]
        cause="goals_achieved" if ending == "completed" else "requested",
        ended_by=None if ending == "completed" else "mentee",
        ended_at=NOW,
        feedback_due_by=NOW + timedelta(days=14),
    )


async def test_a_mentorship_s_end_concludes_its_match_and_frees_the_slot_exactly_once(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    the_mentor = mentor({PRICING: 5}, capacity=1)
    match = await accepted_match(store, sink, the_mentor, mentee({PRICING: (1, 4)}))
    assert store.load(the_mentor.profile_id) == 1
    end = ended(match, "ended_early")

    concluded = await conclude_match(store, sink, matchmaker(), end)
    again = await conclude_match(store, sink, matchmaker(), end)

    assert concluded is not None
    assert (concluded.status, concluded.end_reason, concluded.ended_at) == (
        MatchStatus.CONCLUDED,
        "ended_early",
        NOW,
    )
    assert again == concluded
    [event] = published(sink, MatchConcluded)
    assert (event.match_id, event.mentorship_id, event.ending) == (
        match.id,
        end.mentorship_id,
        "ended_early",
    )
    assert store.load(the_mentor.profile_id) == 0
    assert store.mentors[the_mentor.profile_id].capacity == 1


async def test_the_freed_slot_goes_to_a_waiting_mentee_and_the_pair_never_returns(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    the_mentor = mentor({PRICING: 5}, capacity=1)
    first = mentee({PRICING: (1, 4)})
    match = await accepted_match(store, sink, the_mentor, first)
    waiting = mentee({PRICING: (2, 4)})
    await record(store, sink, waiting)
    assert await store.open_match(waiting.profile_id) is None  # the only slot is taken

    await conclude_match(store, sink, matchmaker(), ended(match))

    offered = await store.open_match(waiting.profile_id)
    assert offered is not None
    assert offered.mentor_id == the_mentor.profile_id
    assert store.load(the_mentor.profile_id) == 1
    assert the_mentor.profile_id in (await store.closed_pairs([first.profile_id]))[first.profile_id]


async def test_an_end_for_a_match_that_ended_before_or_is_unknown_frees_nothing(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    leaving = mentor({PRICING: 5})
    match = await accepted_match(store, sink, leaving, mentee({PRICING: (1, 4)}))
    await forget_profile(
        store,
        sink,
        matchmaker(),
        ProfileDeleted(profile_id=match.mentee_id, kind="mentee", version=2),
    )
    assert store.load(leaving.profile_id) == 0
    before = list(sink.published)

    assert await conclude_match(store, sink, matchmaker(), ended(match, "ended_early")) is None
    unknown = dataclasses.replace(match, id=uuid.uuid4())
    assert await conclude_match(store, sink, matchmaker(), ended(unknown)) is None

    assert sink.published == before
    assert store.load(leaving.profile_id) == 0
    assert store.matches[match.id].status is MatchStatus.EXPIRED


async def test_an_end_caused_by_a_deleted_profile_is_left_to_the_deletion(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    the_mentor = mentor({PRICING: 5})
    match = await accepted_match(store, sink, the_mentor, mentee({PRICING: (1, 4)}))
    left = ended(match, "ended_early").model_copy(update={"cause": "profile_deleted"})
    before = list(sink.published)

    # The mentorship's end arrives before the deletion itself: the match stays as it is ...
    assert await conclude_match(store, sink, matchmaker(), left) is None
    assert sink.published == before
    assert store.load(the_mentor.profile_id) == 1
    # ... and the deletion ends it as every deletion does, whichever came first.
    await forget_profile(
        store,
        sink,
        matchmaker(),
        ProfileDeleted(profile_id=match.mentee_id, kind="mentee", version=2),
    )
    assert (store.matches[match.id].status, store.matches[match.id].end_reason) == (
        MatchStatus.EXPIRED,
        "profile_deleted",
    )
    assert store.load(the_mentor.profile_id) == 0


# --- outcomes ------------------------------------------------------------------------------


def outcome_of(match: Match, mentorship_id: uuid.UUID) -> MentorshipOutcomeRecorded:
    return MentorshipOutcomeRecorded(
        mentorship_id=mentorship_id,
        match_id=match.id,
        mentee_id=match.mentee_id,
        mentor_id=match.mentor_id,
        ending="completed",
        completed=True,
        started_at=NOW - timedelta(days=90),
        ended_at=NOW,
        mentee_feedback=SideFeedback(round="closing", csat=5, nps=9),
        mentor_feedback=None,
        skills=[
            SkillProgress(
                skill=PRICING, start=1, target=4, current=3, levels_closed=2, gap_closed=2 / 3
            )
        ],
        gap_closed_overall=2 / 3,
        check_ins=6,
        goals_agreed=2,
        goals_achieved=2,
    )


async def test_an_outcome_is_kept_once_beside_the_proposal_s_score_and_weights(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    match = await accepted_match(store, sink, mentor({PRICING: 5}), mentee({PRICING: (1, 4)}))
    end = ended(match)
    await conclude_match(store, sink, matchmaker(), end)
    recorded = outcome_of(match, end.mentorship_id)

    assert await record_outcome(store, recorded)
    assert not await record_outcome(store, recorded)

    kept = store.outcomes[match.id]
    assert (kept.score, kept.score_breakdown, kept.weights_version) == (
        match.score,
        match.score_breakdown,
        match.weights_version,
    )
    assert (kept.mentee_csat, kept.mentee_nps, kept.mentor_csat, kept.mentor_nps) == (
        5,
        9,
        None,
        None,
    )
    assert kept.gap_closed_by_skill == {PRICING: pytest.approx(2 / 3)}
    assert (kept.ending, kept.completed, kept.check_ins) == ("completed", True, 6)
    assert kept.mentorship_id == end.mentorship_id


async def test_an_outcome_for_an_unknown_match_is_not_kept(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    match = await accepted_match(store, sink, mentor({PRICING: 5}), mentee({PRICING: (1, 4)}))
    stranger = dataclasses.replace(match, id=uuid.uuid4())

    assert not await record_outcome(store, outcome_of(stranger, uuid.uuid4()))
    assert store.outcomes == {}

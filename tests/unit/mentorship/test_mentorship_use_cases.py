"""The mentorship use cases against an in-memory store and a recording event sink."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from mentorship_service import use_cases
from mentorship_service.domain import (
    AnswerFacts,
    Mentorship,
    MentorshipFacts,
    MentorshipPolicy,
    Refused,
)
from mentorship_service.repository import Assessment, CheckInNote
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MenteeSkill,
    MentorshipEnded,
    MentorshipStarted,
)

from tests.support.fakes import RecordingSink
from tests.support.profiles import mentee, mentor

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = MentorshipPolicy()
PRICING = "pricing_monetisation"
STRATEGY = "product_strategy"


class FakeMentorshipStore:
    """The `MentorshipStore` protocol over dicts."""

    def __init__(self) -> None:
        self.people: dict[uuid.UUID, tuple[str, int, str | None, list[MenteeSkill]]] = {}
        self.erased: set[uuid.UUID] = set()
        self.mentorships: dict[uuid.UUID, Mentorship] = {}
        self.wake: dict[uuid.UUID, datetime | None] = {}
        self.check_in_notes: list[CheckInNote] = []
        self.assessments: list[Assessment] = []
        self.locked: list[uuid.UUID] = []
        self.people_locked: list[list[uuid.UUID]] = []
        #: Mentorships another scheduler holds (lock_if_due skips them).
        self.held_elsewhere: set[uuid.UUID] = set()

    async def lock_people(self, profile_ids: Sequence[uuid.UUID]) -> None:
        self.people_locked.append(sorted(profile_ids))

    async def upsert_person(
        self,
        profile_id: uuid.UUID,
        *,
        kind: str,
        version: int,
        credential: str | None,
        skills: Sequence[MenteeSkill] = (),
    ) -> bool:
        if profile_id in self.erased:
            return False
        known = self.people.get(profile_id)
        if known is not None and known[1] >= version:
            return False
        kept = credential if credential is not None else (known[2] if known else None)
        self.people[profile_id] = (kind, version, kept, list(skills))
        return True

    async def mentee_skills(self, mentee_id: uuid.UUID) -> list[MenteeSkill] | None:
        person = self.people.get(mentee_id)
        return None if person is None or person[0] != "mentee" else person[3]

    async def any_erased(self, profile_ids: Sequence[uuid.UUID]) -> bool:
        return any(p in self.erased for p in profile_ids)

    async def erase_person(
        self, profile_id: uuid.UUID, mentorship_ids: Sequence[uuid.UUID]
    ) -> None:
        self.people.pop(profile_id, None)
        self.erased.add(profile_id)
        self.check_in_notes = [
            CheckInNote(n.mentorship_id, n.number, n.logged_by, n.logged_at, "[erased]", "[erased]")
            if n.mentorship_id in mentorship_ids
            else n
            for n in self.check_in_notes
        ]

    async def add(self, mentorship: Mentorship, wake_at: datetime | None) -> bool:
        if any(m.match_id == mentorship.match_id for m in self.mentorships.values()):
            return False
        self.mentorships[mentorship.id] = mentorship
        self.wake[mentorship.id] = wake_at
        return True

    async def get(self, mentorship_id: uuid.UUID, *, for_update: bool = False) -> Mentorship | None:
        if for_update:
            self.locked.append(mentorship_id)
        return self.mentorships.get(mentorship_id)

    async def lock_if_due(self, mentorship_id: uuid.UUID, now: datetime) -> Mentorship | None:
        wake = self.wake.get(mentorship_id)
        if wake is None or wake > now or mentorship_id in self.held_elsewhere:
            return None
        self.locked.append(mentorship_id)
        return self.mentorships[mentorship_id]

    async def ids_of_person(self, profile_id: uuid.UUID) -> list[uuid.UUID]:
        return [m.id for m in self.mentorships.values() if profile_id in (m.mentee_id, m.mentor_id)]

    async def without_baseline(self, mentee_id: uuid.UUID) -> list[uuid.UUID]:
        return [
            m.id
            for m in self.mentorships.values()
            if m.mentee_id == mentee_id and m.active and not m.skills
        ]

    async def save(self, mentorship: Mentorship, wake_at: datetime | None) -> None:
        assert mentorship.id in self.locked, "saved without holding the lock"
        self.mentorships[mentorship.id] = mentorship
        self.wake[mentorship.id] = wake_at

    async def add_check_in(self, note: CheckInNote) -> None:
        self.check_in_notes.append(note)

    async def add_assessment(self, assessment: Assessment) -> None:
        self.assessments.append(assessment)

    async def report_facts(
        self, since: datetime, until: datetime
    ) -> tuple[list[MentorshipFacts], list[AnswerFacts]]:
        facts = [
            MentorshipFacts(m.started_at, m.ended_at, m.ending, m.skills)
            for m in self.mentorships.values()
            if since <= m.started_at < until
            or (m.ended_at is not None and since <= m.ended_at < until)
        ]
        answers = [
            AnswerFacts(a.given_at, a.party, a.csat, a.nps)
            for m in self.mentorships.values()
            for a in m.answers
            if since <= a.given_at < until
        ]
        return facts, answers


@pytest.fixture
def store() -> FakeMentorshipStore:
    return FakeMentorshipStore()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


def accepted(mentee_id: uuid.UUID, mentor_id: uuid.UUID, at: datetime = T0) -> MatchAccepted:
    return MatchAccepted(
        match_id=uuid.uuid4(), mentee_id=mentee_id, mentor_id=mentor_id, accepted_at=at
    )


async def a_mentorship(store: FakeMentorshipStore, sink: RecordingSink) -> Mentorship:
    engineer = mentee({PRICING: (1, 4), STRATEGY: (2, 3)})
    await use_cases.record_person(store, engineer, "mentee-credential", POLICY)
    started = await use_cases.start_mentorship(
        store, sink, accepted(engineer.profile_id, uuid.uuid4()), POLICY
    )
    assert started is not None
    sink.published.clear()
    return started


async def test_an_accepted_match_starts_one_mentorship_with_the_mentees_gaps(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4), STRATEGY: (3, 3)})
    await use_cases.record_person(store, engineer, None, POLICY)
    event = accepted(engineer.profile_id, uuid.uuid4())
    mentorship = await use_cases.start_mentorship(store, sink, event, POLICY)
    assert mentorship is not None
    assert [s.skill for s in mentorship.skills] == [PRICING]
    assert mentorship.started_at == T0
    assert store.wake[mentorship.id] == T0 + timedelta(days=12)
    assert [type(e) for e in sink.published] == [MentorshipStarted]
    # Decided under the locks of both people, as a profile of either is decided under its own.
    assert store.people_locked[-1] == sorted([event.mentee_id, event.mentor_id])
    assert store.people_locked[0] == [engineer.profile_id]
    # The same acceptance again (a replay under a new event id): still one mentorship.
    assert await use_cases.start_mentorship(store, sink, event, POLICY) is None
    assert len(store.mentorships) == 1
    assert len(sink.published) == 1


async def test_gaps_arrive_with_a_profile_that_comes_after_the_match(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    engineer = mentee({PRICING: (1, 4)})
    mentorship = await use_cases.start_mentorship(
        store, sink, accepted(engineer.profile_id, uuid.uuid4()), POLICY
    )
    assert mentorship is not None
    assert mentorship.skills == ()
    await use_cases.record_person(store, engineer, "c", POLICY)
    assert [s.skill for s in store.mentorships[mentorship.id].skills] == [PRICING]


async def test_no_mentorship_starts_for_someone_erased(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    gone = uuid.uuid4()
    store.erased.add(gone)
    assert (
        await use_cases.start_mentorship(store, sink, accepted(uuid.uuid4(), gone), POLICY) is None
    )
    assert store.mentorships == {}
    assert sink.published == []


async def test_a_stale_profile_version_changes_nothing(store: FakeMentorshipStore) -> None:
    engineer = mentee({PRICING: (1, 4)}, version=3)
    await use_cases.record_person(store, engineer, "new", POLICY)
    older = mentee({PRICING: (0, 5)}, version=2, profile_id=engineer.profile_id)
    await use_cases.record_person(store, older, "old", POLICY)
    assert store.people[engineer.profile_id][1:3] == (3, "new")


async def test_a_change_locks_the_mentorship_saves_it_and_publishes_its_events(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    changed, goal_id = await use_cases.propose_goal(
        store,
        sink,
        m.id,
        "mentee",
        skill=PRICING,
        title="Price feature X",
        milestones=[("Draft", date(2026, 4, 1))],
        now=T0,
        policy=POLICY,
    )
    assert store.locked[-1] == m.id
    assert store.mentorships[m.id] == changed
    assert changed.goal(goal_id).milestones[0].title == "Draft"
    assert [e.event_type for e in sink.published] == ["GoalProposed"]


async def test_a_refused_change_stores_and_publishes_nothing(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    with pytest.raises(Refused):
        await use_cases.propose_goal(
            store,
            sink,
            m.id,
            "mentee",
            skill="go_to_market",
            title="x",
            milestones=[],
            now=T0,
            policy=POLICY,
        )
    assert store.mentorships[m.id] == m
    assert sink.published == []


async def test_an_unknown_mentorship_is_not_found(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    with pytest.raises(use_cases.MentorshipNotFound):
        await use_cases.log_check_in(
            store, sink, uuid.uuid4(), "mentee", discussed="x", next_step="y", now=T0, policy=POLICY
        )


async def test_a_check_in_keeps_its_notes_and_moves_the_schedule(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    at = T0 + timedelta(days=5)
    await use_cases.log_check_in(
        store,
        sink,
        m.id,
        "mentor",
        discussed="Pricing page draft",
        next_step="Interview two customers",
        now=at,
        policy=POLICY,
    )
    assert store.check_in_notes == [
        CheckInNote(m.id, 1, "mentor", at, "Pricing page draft", "Interview two customers")
    ]
    assert store.wake[m.id] == at + timedelta(days=12)
    assert [e.event_type for e in sink.published] == ["CheckInLogged", "FeedbackRequested"]


async def test_a_reassessment_is_kept_as_given(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    await use_cases.reassess(store, sink, m.id, "mentee", {PRICING: 3}, now=T0, policy=POLICY)
    assert [(a.mentorship_id, a.levels) for a in store.assessments] == [(m.id, {PRICING: 3})]
    assert [e.event_type for e in sink.published] == ["SkillsReassessed"]


async def test_time_reminds_once_even_when_two_schedulers_look(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    due = T0 + timedelta(days=12)
    store.held_elsewhere.add(m.id)
    assert await use_cases.act_on_time(store, sink, m.id, due, POLICY) == []
    store.held_elsewhere.clear()
    raised = await use_cases.act_on_time(store, sink, m.id, due, POLICY)
    assert [e.event_type for e in raised] == ["CheckInReminderIssued"]
    assert await use_cases.act_on_time(store, sink, m.id, due, POLICY) == []
    assert store.wake[m.id] == T0 + timedelta(days=21)
    assert [e.event_type for e in sink.published] == ["CheckInReminderIssued"]


async def test_the_scheduler_lapses_and_later_records_the_outcome(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    lapse = T0 + timedelta(days=28)
    await use_cases.act_on_time(store, sink, m.id, lapse, POLICY)
    assert store.mentorships[m.id].status == "lapsed"
    outcome_due = store.wake[m.id]
    assert outcome_due == lapse + timedelta(days=14)
    await use_cases.act_on_time(store, sink, m.id, outcome_due, POLICY)
    assert store.wake[m.id] is None
    assert [e.event_type for e in sink.published] == [
        "MentorshipEnded",
        "FeedbackRequested",
        "MentorshipOutcomeRecorded",
    ]


async def test_forgetting_a_person_ends_their_mentorship_and_erases_the_texts(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    m = await a_mentorship(store, sink)
    await use_cases.log_check_in(
        store, sink, m.id, "mentee", discussed="Ada said", next_step="Call", now=T0, policy=POLICY
    )
    sink.published.clear()
    ended = await use_cases.forget_person(store, sink, m.mentee_id, T0, POLICY)
    assert ended == 1
    assert m.mentee_id in store.erased
    assert m.mentee_id not in store.people
    after = store.mentorships[m.id]
    assert (after.status, after.end_cause, after.ended_by) == (
        "ended_early",
        "profile_deleted",
        "mentee",
    )
    assert store.check_in_notes[0].discussed == "[erased]"
    ending = sink.published[0]
    assert isinstance(ending, MentorshipEnded)
    assert ending.mentor_id == m.mentor_id
    # Deleting the other side later ends nothing more.
    sink.published.clear()
    assert await use_cases.forget_person(store, sink, m.mentor_id, T0, POLICY) == 0
    assert sink.published == []


async def test_the_program_report_reads_the_months_asked_for(
    store: FakeMentorshipStore, sink: RecordingSink
) -> None:
    for month in (1, 2, 3):
        engineer = mentee({PRICING: (1, 4)})
        await use_cases.record_person(store, engineer, None, POLICY)
        when = datetime(2026, month, 15, tzinfo=UTC)
        await use_cases.start_mentorship(
            store, sink, accepted(engineer.profile_id, uuid.uuid4(), when), POLICY
        )
    months, total = await use_cases.program_report(store, "2026-02", "2026-03")
    assert [(m.period, m.started) for m in months] == [("2026-02", 1), ("2026-03", 1)]
    assert total.started == 2


def test_the_system_clock_is_aware() -> None:
    assert use_cases.system_clock().tzinfo is not None


async def test_a_mentor_is_kept_without_skills(store: FakeMentorshipStore) -> None:
    # A mentor's strengths are the matcher's business; this service keeps none of them.
    profile = mentor({PRICING: 5})
    await use_cases.record_person(store, profile, "c", POLICY)
    assert store.people[profile.profile_id] == ("mentor", 1, "c", [])

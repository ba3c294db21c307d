"""The matcher's use cases with an in-memory store, the real mentor directory over it, and a
recording event sink: what each one stores, which events it publishes, and what it refuses.
The same flows against PostgreSQL are in tests/integration/matching/."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from matching_service.directory import MentorDirectory
from matching_service.match import MatchRefused, MatchStatus
from matching_service.matcher.scoring import default_config
from matching_service.policy import MatchPolicy
from matching_service.use_cases.answers import accept_match, decline_match, expire_match
from matching_service.use_cases.common import Matchmaker, MatchNotFound
from matching_service.use_cases.profiles import forget_profile, record_mentee, record_mentor
from matching_service.use_cases.rounds import run_round
from matching_service.use_cases.shortlists import request_mentor, suggest_mentors
from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    ProfileDeleted,
)

from tests.support.fakes import RecordingSink
from tests.support.matching_store import FakeMatchingStore
from tests.support.profiles import mentee, mentor

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
ONLINE = MatchPolicy(proposal_ttl=timedelta(days=7), waiting_mentees_per_event=100)
COHORT = dataclasses.replace(ONLINE, mode="cohort")

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
    store: FakeMatchingStore,
    sink: RecordingSink,
    *profiles: MenteeProfile | MentorProfile,
    matcher: Matchmaker | None = None,
) -> None:
    matcher = matcher or matchmaker()
    for profile in profiles:
        if isinstance(profile, MenteeProfile):
            await record_mentee(store, sink, matcher, profile)
        else:
            await record_mentor(store, sink, matcher, profile)


def published(sink: RecordingSink, kind: type[E]) -> list[E]:
    return [event for event in sink.published if isinstance(event, kind)]


# --- profiles and proposals -------------------------------------------------------------------


async def test_a_new_mentee_is_proposed_the_best_mentor_and_the_slot_is_taken(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    strong, weak = mentor({PRICING: 5}), mentor({PRICING: 3})
    engineer = mentee({PRICING: (1, 4)})
    await record(store, sink, strong, weak)

    proposal = await record_mentee(store, sink, matchmaker(), engineer)

    assert proposal is not None
    assert proposal.mentor_id == strong.profile_id
    [event] = published(sink, MatchProposed)
    assert (event.mentee_id, event.mentor_id, event.origin) == (
        engineer.profile_id,
        strong.profile_id,
        "online",
    )
    assert event.score == proposal.score
    assert event.explanation == proposal.explanation
    [match] = store.matches.values()
    assert (match.id, match.status) == (event.match_id, MatchStatus.PROPOSED)
    assert (store.load(strong.profile_id), store.load(weak.profile_id)) == (1, 0)


async def test_in_cohort_mode_a_new_mentee_waits_for_the_round(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    await record(store, sink, mentor({PRICING: 5}), matcher=matchmaker(COHORT))

    assert await record_mentee(store, sink, matchmaker(COHORT), mentee({PRICING: (1, 4)})) is None
    assert sink.published == []


async def test_a_stale_profile_version_changes_nothing(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    newer = mentor({PRICING: 5}, version=2)
    await record(store, sink, newer)

    older = newer.model_copy(update={"version": 1, "capacity": 5})
    assert await record_mentor(store, sink, matchmaker(), older) == 0
    assert store.mentors[newer.profile_id].requested_capacity == newer.capacity


async def test_a_paused_mentor_s_unaccepted_proposals_move_to_the_next_mentor(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    best, other = mentor({PRICING: 5}), mentor({PRICING: 4})
    engineer = mentee({PRICING: (1, 5)})
    await record(store, sink, best, other, engineer)
    [first] = store.matches.values()
    assert first.mentor_id == best.profile_id

    paused = best.model_copy(update={"version": 2, "accepting_mentees": False})
    assert await record_mentor(store, sink, matchmaker(), paused) == 1

    [expired] = published(sink, MatchExpired)
    assert (expired.match_id, expired.reason) == (first.id, "mentor_paused")
    moved = await store.open_match(engineer.profile_id)
    assert moved is not None
    assert moved.mentor_id == other.profile_id
    assert store.load(best.profile_id) == 0


async def test_a_changed_mentee_moves_only_to_a_clearly_better_mentor(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    pricing = mentor({PRICING: 5, STAKEHOLDERS: 3})
    communication = mentor({PRICING: 3, STAKEHOLDERS: 5})
    engineer = mentee({PRICING: (1, 5), STAKEHOLDERS: (1, 4)})
    await record(store, sink, pricing, communication, engineer)
    first = await store.open_match(engineer.profile_id)
    assert first is not None
    assert first.mentor_id == pricing.profile_id

    # Now the communication gap is what matters: the other mentor is clearly better.
    changed = engineer.model_copy(
        update={
            "version": 2,
            "skills": [
                s.model_copy(update={"current": 4}) if s.skill == PRICING else s
                for s in engineer.skills
            ],
        }
    )
    moved = await record_mentee(store, sink, matchmaker(), changed)

    assert moved is not None
    assert moved.mentor_id == communication.profile_id
    [expired] = published(sink, MatchExpired)
    assert (expired.match_id, expired.reason) == (first.id, "profile_changed")
    assert (store.load(pricing.profile_id), store.load(communication.profile_id)) == (0, 1)


async def test_a_deleted_mentor_s_mentee_gets_the_next_mentor(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    leaving, staying = mentor({PRICING: 5}), mentor({PRICING: 4})
    engineer = mentee({PRICING: (1, 5)})
    await record(store, sink, leaving, staying, engineer)
    [first] = store.matches.values()

    await forget_profile(
        store,
        sink,
        matchmaker(),
        ProfileDeleted(profile_id=leaving.profile_id, kind="mentor", version=2),
    )

    [expired] = published(sink, MatchExpired)
    assert (expired.match_id, expired.reason) == (first.id, "profile_deleted")
    assert leaving.profile_id in store.erased
    moved = await store.open_match(engineer.profile_id)
    assert moved is not None
    assert moved.mentor_id == staying.profile_id
    # An erased profile never comes back, whatever version arrives.
    again = leaving.model_copy(update={"version": 9})
    assert await record_mentor(store, sink, matchmaker(), again) == 0


# --- answers ----------------------------------------------------------------------------------


async def test_both_sides_accept_and_one_match_accepted_is_published(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    await record(store, sink, mentor({PRICING: 5}), mentee({PRICING: (1, 4)}))
    [match] = store.matches.values()

    half = await accept_match(store, sink, match.id, "mentor")
    both = await accept_match(store, sink, match.id, "mentee")
    again = await accept_match(store, sink, match.id, "mentee")

    assert (half.status, half.accepted_by()) == (MatchStatus.PROPOSED, ["mentor"])
    assert both.status is MatchStatus.ACCEPTED
    assert both.accepted_at is not None
    assert again == both
    [accepted] = published(sink, MatchAccepted)
    assert (accepted.match_id, accepted.accepted_at) == (match.id, both.accepted_at)
    assert store.matches[match.id] == both


async def test_a_decline_frees_the_slot_closes_the_pair_and_proposes_the_next_best(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    best, second = mentor({PRICING: 5}, capacity=1), mentor({PRICING: 4})
    engineer = mentee({PRICING: (1, 5)})
    await record(store, sink, best, second, engineer)
    [first] = store.matches.values()

    declined = await decline_match(store, sink, matchmaker(), first.id, "mentee", "not now")
    twice = await decline_match(store, sink, matchmaker(), first.id, "mentee", "not now")

    assert declined.status is MatchStatus.DECLINED
    assert twice == declined
    [event] = published(sink, MatchDeclined)
    assert (event.declined_by, event.reason) == ("mentee", "not now")
    nxt = await store.open_match(engineer.profile_id)
    assert nxt is not None
    assert nxt.mentor_id == second.profile_id
    assert store.load(best.profile_id) == 0
    assert (await store.closed_pairs([engineer.profile_id]))[engineer.profile_id] == {
        best.profile_id
    }
    with pytest.raises(MatchRefused) as refused:
        await accept_match(store, sink, first.id, "mentor")
    assert refused.value.code == "match_closed"


async def test_an_unknown_match_is_not_found(store: FakeMatchingStore, sink: RecordingSink) -> None:
    with pytest.raises(MatchNotFound) as not_found:
        await accept_match(store, sink, uuid.uuid4(), "mentee")
    assert not_found.value.code == "match_not_found"


async def test_only_a_proposal_past_its_time_lapses(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    best, second = mentor({PRICING: 5}), mentor({PRICING: 4})
    engineer = mentee({PRICING: (1, 5)})
    await record(store, sink, best, second, engineer)
    [first] = store.matches.values()

    assert not await expire_match(store, sink, matchmaker(), first.id)
    assert published(sink, MatchExpired) == []

    due = datetime.now(UTC) - timedelta(seconds=1)
    store.matches[first.id] = dataclasses.replace(first, expires_at=due)
    assert await expire_match(store, sink, matchmaker(), first.id)
    assert not await expire_match(store, sink, matchmaker(), first.id)  # ended already

    [expired] = published(sink, MatchExpired)
    assert (expired.match_id, expired.reason) == (first.id, "timeout")
    nxt = await store.open_match(engineer.profile_id)
    assert nxt is not None
    assert nxt.mentor_id == second.profile_id


# --- shortlists and requests ------------------------------------------------------------------


async def test_the_exposure_rule_leaves_a_one_slot_mentor_to_the_first_mentees(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    star, plain = mentor({PRICING: 5}, capacity=1), mentor({PRICING: 3}, capacity=5)
    first, second = mentee({PRICING: (1, 4)}), mentee({PRICING: (1, 4)})
    await record(store, sink, star, plain, first, second, matcher=matchmaker(COHORT))
    one_per_slot = matchmaker(dataclasses.replace(COHORT, exposure_per_slot=1))

    seen_first = await suggest_mentors(store, one_per_slot, first.profile_id, 2)
    seen_second = await suggest_mentors(store, one_per_slot, second.profile_id, 2)
    seen_first_again = await suggest_mentors(store, one_per_slot, first.profile_id, 2)

    assert [p.mentor_id for p in seen_first] == [star.profile_id, plain.profile_id]
    assert [p.mentor_id for p in seen_second] == [plain.profile_id]
    assert [p.mentor_id for p in seen_first_again] == [star.profile_id, plain.profile_id]
    assert sink.published == []


async def test_a_request_proposes_the_pick_as_the_mentee_s_yes_and_declines_the_pending_one(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    best, chosen = mentor({PRICING: 5}), mentor({PRICING: 4})
    engineer = mentee({PRICING: (1, 5)})
    await record(store, sink, best, chosen, engineer)
    [pending] = store.matches.values()

    requested = await request_mentor(
        store, sink, matchmaker(), engineer.profile_id, chosen.profile_id
    )

    assert (requested.mentor_id, requested.origin) == (chosen.profile_id, "request")
    assert requested.accepted_by() == ["mentee"]
    [declined] = published(sink, MatchDeclined)
    assert (declined.match_id, declined.reason) == (pending.id, "chose another mentor")
    proposed = published(sink, MatchProposed)[-1]
    assert (proposed.match_id, proposed.accepted_by) == (requested.id, ["mentee"])
    assert (store.load(best.profile_id), store.load(chosen.profile_id)) == (0, 1)


async def test_a_request_is_refused_with_the_reason_and_changes_nothing(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    german = mentor({PRICING: 5}, languages=("de",))
    engineer = mentee({PRICING: (1, 4)})
    await record(store, sink, german, engineer)
    sink.published.clear()  # the learning plan of a mentee nobody suits

    with pytest.raises(MatchRefused) as refused:
        await request_mentor(store, sink, matchmaker(), engineer.profile_id, german.profile_id)
    with pytest.raises(MatchNotFound) as unknown_mentor:
        await request_mentor(store, sink, matchmaker(), engineer.profile_id, uuid.uuid4())
    with pytest.raises(MatchNotFound) as unknown_mentee:
        await request_mentor(store, sink, matchmaker(), uuid.uuid4(), german.profile_id)

    assert refused.value.code == "mentor_unavailable"
    assert "share no language" in refused.value.message
    assert unknown_mentor.value.code == "mentor_not_found"
    assert unknown_mentee.value.code == "mentee_not_found"
    assert store.matches == {}
    assert sink.published == []


# --- rounds -----------------------------------------------------------------------------------


async def test_a_round_maximises_the_total_where_first_come_first_served_would_not(
    store: FakeMatchingStore, sink: RecordingSink
) -> None:
    # x suits both mentees best, y only the first: greedy gives x to the first mentee and
    # leaves the second without a mentor; the round gives each one.
    x = mentor({PRICING: 5, STAKEHOLDERS: 5}, capacity=1)
    y = mentor({PRICING: 5}, capacity=1)
    a = mentee({PRICING: (1, 4), STAKEHOLDERS: (1, 4)})
    b = mentee({STAKEHOLDERS: (1, 4)})
    cohort = matchmaker(COHORT)
    await record(store, sink, x, y, a, b, matcher=cohort)

    outcome = await run_round(store, sink, cohort)

    assert outcome.record.proposed == 2
    assert outcome.record.greedy_matched == 1
    assert outcome.record.total_score > outcome.record.greedy_total_score
    assert store.rounds == [outcome.record]
    pairs = {(m.mentee_id, m.mentor_id) for m in store.matches.values()}
    assert pairs == {(a.profile_id, y.profile_id), (b.profile_id, x.profile_id)}
    events = published(sink, MatchProposed)
    assert {e.match_id for e in events} == set(outcome.match_ids)
    assert {e.origin for e in events} == {"round"}
    assert {e.round_id for e in events} == {outcome.record.id}

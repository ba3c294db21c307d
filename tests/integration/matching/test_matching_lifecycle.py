"""The matcher's proposal lifecycle against a real PostgreSQL database: propose, accept,
decline, request, expire, re-evaluate on profile changes, shortlists and cohort rounds.

No broker: every use case runs in one transaction with the real repository and the real
outbox, so the outbox rows in the same database are exactly the events the service publishes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
from matching_service.directory import MentorDirectory
from matching_service.match import Match, MatchRefused
from matching_service.matcher.pool import Mentee, MentorPool, skill_vector, utc_offset_hours
from matching_service.matcher.ranking import Proposal, rank_mentors
from matching_service.matcher.scoring import ALGORITHM_VERSION, COMPONENTS, default_config
from matching_service.policy import MatchPolicy
from matching_service.repository import MatchingRepository, MentorLoad
from matching_service.use_cases.answers import accept_match, decline_match, expire_match
from matching_service.use_cases.common import Matchmaker, MatchNotFound
from matching_service.use_cases.profiles import forget_profile, record_mentee, record_mentor
from matching_service.use_cases.rounds import run_round
from matching_service.use_cases.shortlists import request_mentor, suggest_mentors
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchParty,
    MatchProposed,
    MenteeProfile,
    MentorProfile,
    ProfileDeleted,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS
from mentorship_shared.plumbing.outbox import EventSink
from mentorship_shared.plumbing.unit_of_work import UnitOfWork

from tests.support.profiles import mentee, mentor

pytestmark = pytest.mark.integration

T = TypeVar("T")
E = TypeVar("E", bound=EventPayload)

# With a mentor directory, as the service runs (its change feed names its database, so one
# directory stays right across the tests' databases; test_mentor_directory.py compares it with
# fresh pools).
DIRECTORY = MentorDirectory(default_config())
POLICY = MatchPolicy(proposal_ttl=timedelta(days=7), waiting_mentees_per_event=100)
COHORT = dataclasses.replace(POLICY, mode="cohort")

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"


def matchmaker(policy: MatchPolicy) -> Matchmaker:
    """The use cases' matchmaker: `policy` with the one directory all these tests share."""
    return Matchmaker(policy, DIRECTORY)


@pytest.fixture
def pool(matching_pool: asyncpg.Pool) -> asyncpg.Pool:
    return matching_pool


class Matcher:
    """The use cases, one transaction each, and the state and events they leave behind."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def run(self, work: Callable[[MatchingRepository, EventSink], Awaitable[T]]) -> T:
        """`work` in one transaction: an exception rolls back its changes and its events."""
        uow = UnitOfWork(MatchingRepository, producer="matching")
        uow.bind(self.pool)
        return await uow.run(lambda tx: work(tx.repo, tx.outbox))

    async def mentee(self, profile: MenteeProfile, policy: MatchPolicy = POLICY) -> Proposal | None:
        return await self.run(lambda r, o: record_mentee(r, o, matchmaker(policy), profile))

    async def mentor(self, profile: MentorProfile, policy: MatchPolicy = POLICY) -> int:
        return await self.run(lambda r, o: record_mentor(r, o, matchmaker(policy), profile))

    async def record(
        self, *profiles: MenteeProfile | MentorProfile, policy: MatchPolicy = POLICY
    ) -> None:
        """Record profiles one transaction each, in order."""
        for profile in profiles:
            if isinstance(profile, MenteeProfile):
                await self.mentee(profile, policy)
            else:
                await self.mentor(profile, policy)

    async def forget(self, deleted: ProfileDeleted, policy: MatchPolicy = POLICY) -> None:
        await self.run(lambda r, o: forget_profile(r, o, matchmaker(policy), deleted))

    async def accept(self, match_id: uuid.UUID, party: MatchParty) -> Match:
        return await self.run(lambda r, o: accept_match(r, o, match_id, party))

    async def decline(
        self,
        match_id: uuid.UUID,
        party: MatchParty,
        reason: str | None = None,
        policy: MatchPolicy = POLICY,
    ) -> Match:
        return await self.run(
            lambda r, o: decline_match(r, o, matchmaker(policy), match_id, party, reason)
        )

    async def request(
        self, mentee_id: uuid.UUID, mentor_id: uuid.UUID, policy: MatchPolicy = POLICY
    ) -> Match:
        return await self.run(
            lambda r, o: request_mentor(r, o, matchmaker(policy), mentee_id, mentor_id)
        )

    async def expire(self, match_id: uuid.UUID, policy: MatchPolicy = POLICY) -> bool:
        return await self.run(lambda r, o: expire_match(r, o, matchmaker(policy), match_id))

    async def suggest(
        self, mentee_id: uuid.UUID, limit: int, policy: MatchPolicy = POLICY
    ) -> list[uuid.UUID]:
        """The suggested mentors' ids, best first."""
        return [p.mentor_id for p in await self.suggestions(mentee_id, limit, policy)]

    async def suggestions(
        self, mentee_id: uuid.UUID, limit: int, policy: MatchPolicy = POLICY
    ) -> list[Proposal]:
        return await self.run(lambda r, _: suggest_mentors(r, matchmaker(policy), mentee_id, limit))

    async def open_match(self, mentee_id: uuid.UUID) -> Match | None:
        return await self.run(lambda r, _: r.open_match(mentee_id))

    async def current(self, mentee_id: uuid.UUID) -> Match:
        """The mentee's open match, which must exist."""
        found = await self.open_match(mentee_id)
        assert found is not None, "the mentee has no open match"
        return found

    async def match(self, match_id: uuid.UUID) -> Match:
        found = await self.run(lambda r, _: r.get_match(match_id))
        assert found is not None
        return found

    async def matches_of(self, mentee_id: uuid.UUID) -> list[Match]:
        """The mentee's matches, oldest first."""
        return list(reversed(await self.run(lambda r, _: r.matches_for_mentee(mentee_id))))

    async def slots(self, mentor_id: uuid.UUID) -> MentorLoad | None:
        return await self.run(lambda r, _: r.mentor_load(mentor_id))

    async def load(self, mentor_id: uuid.UUID) -> int:
        slots = await self.slots(mentor_id)
        assert slots is not None
        return slots.load

    async def events(self, kind: type[E]) -> list[E]:
        """Published events of one type, in the order they were written, decoded from the
        envelope bytes the outbox stores."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT topic, message_key, event_type, payload, headers FROM outbox "
                "WHERE event_type = $1 ORDER BY id",
                kind.event_type,
            )
        found: list[E] = []
        for row in rows:
            envelope = EventEnvelope.from_json(bytes(row["payload"]))
            assert envelope.event_type == kind.event_type
            assert envelope.producer == "matching"
            assert row["topic"] == MATCH_EVENTS
            assert row["headers"]["event_id"] == str(envelope.event_id)
            event = kind.model_validate(envelope.payload)
            assert row["message_key"] == event.aggregate_id()
            found.append(event)
        return found

    async def event_count(self) -> int:
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval("SELECT count(*) FROM outbox")
            return count


@pytest.fixture
def matcher(pool: asyncpg.Pool) -> Matcher:
    return Matcher(pool)


P = TypeVar("P", MenteeProfile, MentorProfile)


def newer(profile: P, **changes: Any) -> P:
    """The next version of a profile, with `changes`."""
    return profile.model_copy(update={"version": profile.version + 1, **changes})


async def ranked(matcher: Matcher, profile: MenteeProfile) -> list[Proposal]:
    """How the scoring ranks the mentors available to `profile` (nothing is stored)."""
    mentors = await matcher.run(lambda r, _: r.available_mentors(sorted(profile.languages)))
    levels = {s.skill: (s.current, s.target) for s in profile.skills}
    probe = Mentee(
        id=profile.profile_id,
        languages=frozenset(profile.languages),
        current=skill_vector({skill: current for skill, (current, _) in levels.items()}),
        target=skill_vector({skill: target for skill, (_, target) in levels.items()}),
        target_role=profile.target_role,
        industries=frozenset(profile.industries),
        utc_offset_hours=utc_offset_hours(profile.timezone),
        max_timezone_difference_hours=profile.max_timezone_difference_hours,
    )
    return rank_mentors(probe, MentorPool(mentors, POLICY.config))


async def assert_within_capacity(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.id, m.load, m.capacity, "
            "(SELECT count(*) FROM matches x WHERE x.mentor_id = m.id "
            " AND x.status IN ('proposed', 'accepted')) AS open FROM mentors m"
        )
    for row in rows:
        assert row["load"] <= row["capacity"], dict(row)
        assert row["load"] == row["open"], dict(row)


# --- 1. online proposal ----------------------------------------------------------------------


async def test_a_new_mentee_is_proposed_the_best_mentor_online(matcher: Matcher) -> None:
    strong = mentor({PRICING: 5}, capacity=2)
    weak = mentor({PRICING: 3}, capacity=2)
    engineer = mentee({PRICING: (1, 4)})
    assert await matcher.mentor(strong) == 0
    assert await matcher.mentor(weak) == 0

    proposal = await matcher.mentee(engineer)

    assert proposal is not None
    assert proposal.mentor_id == strong.profile_id
    [match] = await matcher.matches_of(engineer.profile_id)
    assert match.status == "proposed"
    assert match.mentor_id == strong.profile_id
    assert match.origin == "online"
    assert match.round_id is None
    assert match.accepted_by() == []
    assert match.expires_at is not None
    # proposed_at is the transaction's start (the database clock), expires_at the time of the
    # proposal plus the ttl (the matcher's clock): a few milliseconds apart on one machine.
    assert abs(match.expires_at - (match.proposed_at + POLICY.proposal_ttl)) < timedelta(seconds=5)
    assert (await matcher.slots(strong.profile_id)) == MentorLoad(
        id=strong.profile_id, capacity=2, requested_capacity=2, load=1, accepting_mentees=True
    )
    assert await matcher.load(weak.profile_id) == 0

    [event] = await matcher.events(MatchProposed)
    assert event.match_id == match.id
    assert event.mentee_id == engineer.profile_id
    assert event.mentor_id == strong.profile_id
    assert event.origin == "online"
    assert event.round_id is None
    assert event.accepted_by == []
    assert event.algorithm_version == ALGORITHM_VERSION == "skill-gap-v3"
    assert event.weights_version == default_config().version == match.weights_version
    assert set(event.score_breakdown) == set(COMPONENTS)
    assert all(0.0 <= value <= 1.0 for value in event.score_breakdown.values())
    assert 0 < event.score <= 1
    assert event.score == pytest.approx(match.score)
    assert event.score_breakdown == match.score_breakdown
    assert event.covered_skills == [PRICING] == match.covered_skills
    assert event.expires_at == match.expires_at
    assert await matcher.events(MatchAccepted) == []


# --- 2. accept --------------------------------------------------------------------------------


async def test_a_match_is_accepted_once_both_sides_said_yes(matcher: Matcher) -> None:
    pm = mentor({PRICING: 5})
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(pm, engineer)
    [match] = await matcher.matches_of(engineer.profile_id)

    half = await matcher.accept(match.id, "mentee")

    assert half.status == "proposed"
    assert half.accepted_by() == ["mentee"]
    assert half.accepted_at is None
    assert await matcher.events(MatchAccepted) == []

    both = await matcher.accept(match.id, "mentor")

    assert both.status == "accepted"
    assert both.accepted_by() == ["mentee", "mentor"]
    assert both.accepted_at is not None
    [accepted] = await matcher.events(MatchAccepted)
    assert (accepted.match_id, accepted.mentee_id, accepted.mentor_id) == (
        match.id,
        engineer.profile_id,
        pm.profile_id,
    )
    assert accepted.accepted_at == both.accepted_at

    events_before = await matcher.event_count()
    again = await matcher.accept(match.id, "mentor")
    again_mentee = await matcher.accept(match.id, "mentee")

    assert again.status == again_mentee.status == "accepted"
    assert again_mentee.accepted_at == both.accepted_at
    assert await matcher.event_count() == events_before
    assert len(await matcher.events(MatchAccepted)) == 1
    assert await matcher.load(pm.profile_id) == 1


# --- 3. decline ---------------------------------------------------------------------------


async def test_a_declined_pair_is_never_proposed_again(matcher: Matcher) -> None:
    best = mentor({PRICING: 5}, capacity=2)
    second = mentor({PRICING: 3}, capacity=2)
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(best, second, engineer)
    [first] = await matcher.matches_of(engineer.profile_id)
    assert first.mentor_id == best.profile_id

    ended = await matcher.decline(first.id, "mentor", "No time this quarter")

    assert ended.status == "declined"
    assert ended.end_reason == "declined_by_mentor"
    assert ended.declined_by == "mentor"
    assert ended.decline_reason == "No time this quarter"
    assert ended.ended_at is not None
    assert await matcher.load(best.profile_id) == 0
    [declined] = await matcher.events(MatchDeclined)
    assert declined.match_id == first.id
    assert declined.declined_by == "mentor"
    assert declined.reason == "No time this quarter"
    proposed = await matcher.events(MatchProposed)
    assert [p.mentor_id for p in proposed] == [best.profile_id, second.profile_id]
    replacement = await matcher.open_match(engineer.profile_id)
    assert replacement is not None
    assert replacement.id == proposed[1].match_id
    assert replacement.mentor_id == second.profile_id
    assert await matcher.load(second.profile_id) == 1

    # Declining again is harmless.
    assert (await matcher.decline(first.id, "mentor", "again")).decline_reason == (
        "No time this quarter"
    )
    assert len(await matcher.events(MatchDeclined)) == 1
    # A match reads the closed pairs in the directory's refresh statement: the same as alone.
    async with matcher.pool.acquire() as conn:
        repo = MatchingRepository(conn)
        changes = await repo.mentor_changes(0, closed_for=engineer.profile_id)
        alone = await repo.closed_pairs([engineer.profile_id])
    assert set(changes.closed) == alone[engineer.profile_id] == {best.profile_id}

    # The best mentor is free and scores highest, yet a newer mentee profile keeps the
    # replacement: the declined pair is excluded.
    assert await matcher.mentee(newer(engineer)) is None
    assert (await matcher.current(engineer.profile_id)).id == replacement.id

    # The mentee declines the replacement too: nobody is left, not even the free best mentor,
    # neither now nor when that mentor's profile changes (which offers its slots).
    await matcher.decline(replacement.id, "mentee", None)
    assert await matcher.open_match(engineer.profile_id) is None
    assert await matcher.mentor(newer(best)) == 0
    assert await matcher.open_match(engineer.profile_id) is None
    assert len(await matcher.events(MatchProposed)) == 2
    with pytest.raises(MatchRefused) as refused:
        await matcher.request(engineer.profile_id, best.profile_id)
    assert refused.value.code == "mentor_unavailable"
    assert [m.status for m in await matcher.matches_of(engineer.profile_id)] == [
        "declined",
        "declined",
    ]
    await assert_within_capacity(matcher.pool)


# --- 4. answers to closed or unknown matches --------------------------------------------------


async def test_closed_and_unknown_matches_refuse_answers(matcher: Matcher) -> None:
    pm = mentor({PRICING: 5}, capacity=3)
    declines = mentee({PRICING: (1, 4)})
    accepts = mentee({PRICING: (1, 4)})
    await matcher.record(pm, declines, accepts)
    declined = await matcher.current(declines.profile_id)
    accepted = await matcher.current(accepts.profile_id)
    await matcher.decline(declined.id, "mentee", "Not now")
    await matcher.accept(accepted.id, "mentee")
    await matcher.accept(accepted.id, "mentor")
    events_before = await matcher.event_count()

    for party in ("mentee", "mentor"):
        with pytest.raises(MatchRefused) as refused:
            await matcher.accept(declined.id, party)
        assert refused.value.code == "match_closed"
        with pytest.raises(MatchRefused) as refused:
            await matcher.decline(accepted.id, party, "changed my mind")
        assert refused.value.code == "match_closed"
    unknown = uuid.uuid4()
    with pytest.raises(MatchNotFound) as not_found:
        await matcher.accept(unknown, "mentee")
    assert not_found.value.code == "match_not_found"
    with pytest.raises(MatchNotFound):
        await matcher.decline(unknown, "mentor", None)
    assert await matcher.expire(unknown) is False

    assert (await matcher.match(declined.id)).status == "declined"
    assert (await matcher.match(accepted.id)).status == "accepted"
    assert await matcher.event_count() == events_before
    assert await matcher.load(pm.profile_id) == 1


async def test_saying_yes_again_to_a_match_that_closed_since_is_refused(
    matcher: Matcher,
) -> None:
    pm = mentor({PRICING: 5})
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(pm, engineer)
    match = await matcher.current(engineer.profile_id)
    await matcher.accept(match.id, "mentee")
    await matcher.decline(match.id, "mentor", "Not a fit")

    with pytest.raises(MatchRefused) as refused:
        await matcher.accept(match.id, "mentee")
    assert refused.value.code == "match_closed"


# --- 5. expiry --------------------------------------------------------------------------------


async def test_a_lapsed_proposal_expires_once_and_the_next_best_mentor_is_proposed(
    matcher: Matcher,
) -> None:
    best = mentor({PRICING: 5})
    second = mentor({PRICING: 3})
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(best, second, engineer)
    [lapsing] = await matcher.matches_of(engineer.profile_id)
    assert lapsing.mentor_id == best.profile_id
    async with matcher.pool.acquire() as conn:
        await conn.execute(
            "UPDATE matches SET expires_at = now() - interval '1 second' WHERE id = $1",
            lapsing.id,
        )

    assert await matcher.expire(lapsing.id) is True

    ended = await matcher.match(lapsing.id)
    assert (ended.status, ended.end_reason) == ("expired", "timeout")
    [expired] = await matcher.events(MatchExpired)
    assert (expired.match_id, expired.reason) == (lapsing.id, "timeout")
    assert (expired.mentee_id, expired.mentor_id) == (engineer.profile_id, best.profile_id)
    assert await matcher.load(best.profile_id) == 0
    next_one = await matcher.current(engineer.profile_id)
    assert next_one.mentor_id == second.profile_id
    assert [p.mentor_id for p in await matcher.events(MatchProposed)] == [
        best.profile_id,
        second.profile_id,
    ]

    # Again: nothing changes. The new proposal is not due: it stays. An accepted match past
    # its answer time does not lapse.
    events_before = await matcher.event_count()
    assert await matcher.expire(lapsing.id) is False
    assert await matcher.expire(next_one.id) is False
    assert (await matcher.match(next_one.id)).status == "proposed"
    assert await matcher.event_count() == events_before
    await matcher.accept(next_one.id, "mentee")
    await matcher.accept(next_one.id, "mentor")
    async with matcher.pool.acquire() as conn:
        await conn.execute(
            "UPDATE matches SET expires_at = now() - interval '1 second' WHERE id = $1",
            next_one.id,
        )
    assert await matcher.expire(next_one.id) is False
    assert (await matcher.match(next_one.id)).status == "accepted"
    assert len(await matcher.events(MatchExpired)) == 1
    assert await matcher.load(second.profile_id) == 1


async def test_with_a_short_ttl_proposals_lapse_one_after_another_until_none_is_left(
    matcher: Matcher,
) -> None:
    hasty = dataclasses.replace(POLICY, proposal_ttl=timedelta(milliseconds=5))
    best = mentor({PRICING: 5})
    second = mentor({PRICING: 3})
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(best, second, engineer, policy=hasty)

    # What the expiry worker does: look for due proposals, expire each.
    await asyncio.sleep(0.05)
    [first_id] = await matcher.run(lambda r, _: r.due_proposals(datetime.now(UTC), 10))
    assert (await matcher.match(first_id)).mentor_id == best.profile_id
    assert await matcher.expire(first_id, hasty) is True
    second_match = await matcher.current(engineer.profile_id)
    assert second_match.mentor_id == second.profile_id
    await asyncio.sleep(0.05)
    assert await matcher.run(lambda r, _: r.due_proposals(datetime.now(UTC), 10)) == [
        second_match.id
    ]
    assert await matcher.expire(second_match.id, hasty) is True

    # Both pairs lapsed: neither mentor comes back, though both are free.
    assert await matcher.open_match(engineer.profile_id) is None
    assert [e.reason for e in await matcher.events(MatchExpired)] == ["timeout", "timeout"]
    assert len(await matcher.events(MatchProposed)) == 2
    assert await matcher.load(best.profile_id) == 0
    assert await matcher.load(second.profile_id) == 0


# --- 6. the mentee's own request ---------------------------------------------------------


async def test_a_mentee_requests_another_mentor_from_the_suggestions(matcher: Matcher) -> None:
    best = mentor({PRICING: 5}, capacity=2)
    chosen = mentor({PRICING: 4, STAKEHOLDERS: 4}, capacity=2)
    german = mentor({PRICING: 5}, languages=("de",), capacity=2)
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(best, chosen, german, engineer)
    pending = await matcher.current(engineer.profile_id)
    assert pending.mentor_id == best.profile_id

    # No shared language: refused, and the whole transaction rolled back.
    events_before = await matcher.event_count()
    with pytest.raises(MatchRefused) as refused:
        await matcher.request(engineer.profile_id, german.profile_id)
    assert refused.value.code == "mentor_unavailable"
    assert "language" in refused.value.message
    assert await matcher.event_count() == events_before
    still = await matcher.current(engineer.profile_id)
    assert (still.id, still.status) == (pending.id, "proposed")
    assert await matcher.load(german.profile_id) == 0
    assert await matcher.load(best.profile_id) == 1

    suggestions = await matcher.suggest(engineer.profile_id, 5)
    assert german.profile_id not in suggestions
    assert chosen.profile_id in suggestions

    requested = await matcher.request(engineer.profile_id, chosen.profile_id)

    old = await matcher.match(pending.id)
    assert (old.status, old.end_reason, old.declined_by) == (
        "declined",
        "declined_by_mentee",
        "mentee",
    )
    [declined] = await matcher.events(MatchDeclined)
    assert (declined.match_id, declined.declined_by) == (pending.id, "mentee")
    assert requested.status == "proposed"
    assert requested.origin == "request"
    assert requested.mentor_id == chosen.profile_id
    assert requested.accepted_by() == ["mentee"]
    assert (await matcher.current(engineer.profile_id)).id == requested.id
    proposed = await matcher.events(MatchProposed)
    assert len(proposed) == 2
    assert proposed[1].match_id == requested.id
    assert proposed[1].origin == "request"
    assert proposed[1].accepted_by == ["mentee"]
    assert proposed[1].mentor_id == chosen.profile_id
    assert await matcher.load(best.profile_id) == 0
    assert await matcher.load(chosen.profile_id) == 1

    accepted = await matcher.accept(requested.id, "mentor")

    assert accepted.status == "accepted"
    [event] = await matcher.events(MatchAccepted)
    assert event.match_id == requested.id

    # Matched now: a further request is refused and changes nothing.
    with pytest.raises(MatchRefused) as refused:
        await matcher.request(engineer.profile_id, best.profile_id)
    assert refused.value.code == "already_matched"
    assert (await matcher.match(requested.id)).status == "accepted"


async def test_a_requested_match_records_the_score_the_mentee_was_shown(
    matcher: Matcher,
) -> None:
    best = mentor({PRICING: 5}, capacity=2)
    chosen = mentor({PRICING: 4, STAKEHOLDERS: 4}, capacity=2)
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(best, chosen, engineer, policy=COHORT)
    [shown] = [
        s
        for s in await matcher.suggestions(engineer.profile_id, 5, COHORT)
        if s.mentor_id == chosen.profile_id
    ]

    requested = await matcher.request(engineer.profile_id, chosen.profile_id, COHORT)

    assert requested.score_breakdown == shown.breakdown
    assert requested.score == shown.score


# --- 7. a mentor pauses -------------------------------------------------------------------


async def test_a_paused_mentor_keeps_what_they_accepted_and_loses_the_rest(
    matcher: Matcher,
) -> None:
    pausing = mentor({PRICING: 5}, capacity=3)
    other = mentor({PRICING: 3}, capacity=3)
    both_said_yes, mentor_said_yes, pending = (mentee({PRICING: (1, 4)}) for _ in range(3))
    await matcher.record(pausing, other, both_said_yes, mentor_said_yes, pending)
    accepted = await matcher.current(both_said_yes.profile_id)
    half = await matcher.current(mentor_said_yes.profile_id)
    unanswered = await matcher.current(pending.profile_id)
    assert {m.mentor_id for m in (accepted, half, unanswered)} == {pausing.profile_id}
    await matcher.accept(accepted.id, "mentor")
    await matcher.accept(accepted.id, "mentee")
    await matcher.accept(half.id, "mentor")

    proposed = await matcher.mentor(newer(pausing, accepting_mentees=False))

    assert proposed == 1
    assert (await matcher.match(accepted.id)).status == "accepted"
    kept = await matcher.match(half.id)
    assert (kept.status, kept.accepted_by()) == ("proposed", ["mentor"])
    withdrawn = await matcher.match(unanswered.id)
    assert (withdrawn.status, withdrawn.end_reason) == ("expired", "mentor_paused")
    [expired] = await matcher.events(MatchExpired)
    assert (expired.match_id, expired.reason) == (withdrawn.id, "mentor_paused")
    moved = await matcher.current(pending.profile_id)
    assert moved.mentor_id == other.profile_id
    assert (await matcher.events(MatchProposed))[-1].match_id == moved.id
    slots = await matcher.slots(pausing.profile_id)
    assert slots is not None
    assert (slots.load, slots.accepting_mentees) == (2, False)
    await assert_within_capacity(matcher.pool)

    # A paused mentor gets nobody new, whatever their free capacity.
    newcomer = mentee({PRICING: (1, 4)})
    await matcher.record(newcomer)
    assert (await matcher.current(newcomer.profile_id)).mentor_id == other.profile_id


# --- 8. capacity lowered -----------------------------------------------------------------


async def test_lowering_capacity_withdraws_the_newest_pending_proposals(matcher: Matcher) -> None:
    shrinking = mentor({PRICING: 5}, capacity=3)
    other = mentor({PRICING: 3}, capacity=3)
    await matcher.record(shrinking, other)
    engineers = [mentee({PRICING: (1, 4)}) for _ in range(3)]
    await matcher.record(*engineers)
    before = [await matcher.current(e.profile_id) for e in engineers]
    assert {m.mentor_id for m in before} == {shrinking.profile_id}
    assert await matcher.load(shrinking.profile_id) == 3

    proposed = await matcher.mentor(newer(shrinking, capacity=1))

    assert proposed == 2
    oldest, *newest = before
    assert (await matcher.match(oldest.id)).status == "proposed"
    for match in newest:
        ended = await matcher.match(match.id)
        assert (ended.status, ended.end_reason) == ("expired", "capacity_lowered")
    expired = await matcher.events(MatchExpired)
    assert {e.match_id for e in expired} == {m.id for m in newest}
    assert {e.reason for e in expired} == {"capacity_lowered"}
    for engineer in engineers[1:]:
        moved = await matcher.current(engineer.profile_id)
        assert moved.mentor_id == other.profile_id
    # The ceiling was kept at the load when the profile arrived, and came down with each
    # withdrawal: what the mentor's view shows in the end is the wish.
    assert await matcher.slots(shrinking.profile_id) == MentorLoad(
        id=shrinking.profile_id, capacity=1, requested_capacity=1, load=1, accepting_mentees=True
    )
    assert await matcher.load(other.profile_id) == 2
    assert len(await matcher.events(MatchProposed)) == 5
    await assert_within_capacity(matcher.pool)


# --- 9. the mentee's profile changes -------------------------------------------------------


async def test_a_changed_mentee_moves_only_to_a_clearly_better_mentor(matcher: Matcher) -> None:
    pricing = mentor({PRICING: 5, STAKEHOLDERS: 3}, capacity=2)
    communication = mentor({PRICING: 3, STAKEHOLDERS: 5}, capacity=2)
    engineer = mentee({PRICING: (1, 5), STAKEHOLDERS: (1, 4)})
    await matcher.record(pricing, communication, engineer)
    first = await matcher.current(engineer.profile_id)
    assert first.mentor_id == pricing.profile_id

    # A small change: the other mentor is now a little better, by less than the margin.
    small = newer(engineer, skills=mentee({PRICING: (1, 4), STAKEHOLDERS: (0, 4)}).skills)
    closer, further = await ranked(matcher, small)
    assert (closer.mentor_id, further.mentor_id) == (communication.profile_id, pricing.profile_id)
    assert 0 < closer.score - further.score < POLICY.rematch_margin

    assert await matcher.mentee(small) is None

    assert (await matcher.current(engineer.profile_id)).id == first.id
    assert await matcher.events(MatchExpired) == []
    assert len(await matcher.events(MatchProposed)) == 1

    # A real change: pricing is no gap any more.
    changed = newer(small, skills=mentee({PRICING: (4, 4), STAKEHOLDERS: (0, 4)}).skills)

    moved = await matcher.mentee(changed)

    assert moved is not None
    assert moved.mentor_id == communication.profile_id
    ended = await matcher.match(first.id)
    assert (ended.status, ended.end_reason) == ("expired", "profile_changed")
    [expired] = await matcher.events(MatchExpired)
    assert (expired.match_id, expired.reason) == (first.id, "profile_changed")
    current = await matcher.current(engineer.profile_id)
    assert current.mentor_id == communication.profile_id
    assert (await matcher.events(MatchProposed))[-1].match_id == current.id
    assert await matcher.load(pricing.profile_id) == 0
    assert await matcher.load(communication.profile_id) == 1


# --- 10. a profile is deleted ----------------------------------------------------------------


async def test_a_deleted_mentor_is_gone_for_good_and_their_mentee_gets_another(
    matcher: Matcher,
) -> None:
    leaving = mentor({PRICING: 5})
    staying = mentor({PRICING: 3})
    engineer = mentee({PRICING: (1, 4)})
    await matcher.record(leaving, staying, engineer)
    lost = await matcher.current(engineer.profile_id)
    assert lost.mentor_id == leaving.profile_id
    deleted = ProfileDeleted(profile_id=leaving.profile_id, kind="mentor", version=2)

    await matcher.forget(deleted)

    ended = await matcher.match(lost.id)
    assert (ended.status, ended.end_reason) == ("expired", "profile_deleted")
    [expired] = await matcher.events(MatchExpired)
    assert (expired.match_id, expired.reason) == (lost.id, "profile_deleted")
    assert await matcher.slots(leaving.profile_id) is None
    replacement = await matcher.current(engineer.profile_id)
    assert replacement.mentor_id == staying.profile_id

    # A replayed registration (or any later version) does not bring the mentor back.
    assert await matcher.mentor(leaving) == 0
    assert await matcher.mentor(newer(newer(leaving))) == 0
    assert await matcher.slots(leaving.profile_id) is None
    newcomer = mentee({PRICING: (1, 4)})
    await matcher.record(newcomer)
    assert (await matcher.current(newcomer.profile_id)).mentor_id == staying.profile_id
    assert leaving.profile_id not in await matcher.suggest(newcomer.profile_id, 5)
    assert (await matcher.current(engineer.profile_id)).id == replacement.id


async def test_a_deleted_mentee_releases_the_slot(matcher: Matcher) -> None:
    pm = mentor({PRICING: 5}, capacity=1)
    leaving = mentee({PRICING: (1, 4)})
    await matcher.record(pm, leaving)
    match = await matcher.current(leaving.profile_id)
    await matcher.accept(match.id, "mentee")
    await matcher.accept(match.id, "mentor")
    deleted = ProfileDeleted(profile_id=leaving.profile_id, kind="mentee", version=1)

    await matcher.forget(deleted)

    ended = await matcher.match(match.id)
    assert (ended.status, ended.end_reason) == ("expired", "profile_deleted")
    [expired] = await matcher.events(MatchExpired)
    assert expired.reason == "profile_deleted"
    assert await matcher.load(pm.profile_id) == 0
    assert await matcher.mentee(leaving) is None  # a replay does not bring the mentee back
    assert await matcher.open_match(leaving.profile_id) is None


async def test_erasure_drops_decline_reasons_and_the_published_events_that_carry_them(
    matcher: Matcher,
) -> None:
    pm = mentor({PRICING: 5}, capacity=1)
    other_pm = mentor({PRICING: 4}, capacity=1)
    leaving = mentee({PRICING: (1, 4)})
    await matcher.record(pm, other_pm, leaving)
    match = await matcher.current(leaving.profile_id)
    await matcher.decline(match.id, "mentee", "my manager said no, see ada@example.com")
    async with matcher.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET status = 'published', published_at = now()")
    [declined] = await matcher.events(MatchDeclined)
    assert declined.reason is not None

    await matcher.forget(ProfileDeleted(profile_id=leaving.profile_id, kind="mentee", version=2))

    assert (await matcher.match(match.id)).decline_reason is None
    assert await matcher.events(MatchDeclined) == []  # the published copy with the reason
    async with matcher.pool.acquire() as conn:
        text = await conn.fetchval(
            "SELECT string_agg(convert_from(payload, 'UTF8'), ' ') FROM outbox"
        )
    assert "ada@example.com" not in (text or "")
    assert str(leaving.profile_id) not in await matcher.pool.fetchval(
        "SELECT coalesce(string_agg(m::text, ' '), '') FROM shortlist_exposure m"
    )


@pytest.mark.parametrize("how", ["declined", "lapsed", "mentee_deleted"])
async def test_a_freed_slot_goes_to_a_waiting_mentee(matcher: Matcher, how: str) -> None:
    pm = mentor({PRICING: 5}, capacity=1)
    leaving = mentee({PRICING: (1, 4)})
    waiting = mentee({PRICING: (1, 4)})
    await matcher.record(pm, leaving, waiting)
    match = await matcher.current(leaving.profile_id)
    assert await matcher.open_match(waiting.profile_id) is None  # the only slot is taken

    if how == "declined":
        await matcher.decline(match.id, "mentee", "Found someone else")
    elif how == "lapsed":
        async with matcher.pool.acquire() as conn:
            await conn.execute(
                "UPDATE matches SET expires_at = now() - interval '1 second' WHERE id = $1",
                match.id,
            )
        assert await matcher.expire(match.id) is True
    else:
        await matcher.forget(
            ProfileDeleted(profile_id=leaving.profile_id, kind="mentee", version=1)
        )

    assert (await matcher.match(match.id)).status in ("declined", "expired")
    offered = await matcher.open_match(waiting.profile_id)
    assert offered is not None, "the freed slot was not offered to the waiting mentee"
    assert offered.mentor_id == pm.profile_id
    assert await matcher.load(pm.profile_id) == 1


# --- 11. shortlists -------------------------------------------------------------------------


async def test_suggestions_are_the_best_eligible_mentors_first(matcher: Matcher) -> None:
    best = mentor({PRICING: 5}, capacity=2)
    good = mentor({PRICING: 4}, capacity=2)
    fair = mentor({PRICING: 3}, capacity=2)
    german = mentor({PRICING: 5}, languages=("de",))
    paused = mentor({PRICING: 5}, accepting_mentees=False)
    full = mentor({PRICING: 5}, capacity=1)
    engineer = mentee({PRICING: (1, 5)})
    someone = mentee({PRICING: (1, 4)})
    await matcher.record(best, good, fair, german, paused, full, engineer, someone, policy=COHORT)
    assert await matcher.events(MatchProposed) == []
    await matcher.request(someone.profile_id, full.profile_id, COHORT)  # fills the only slot
    assert await matcher.load(full.profile_id) == 1

    top_two = await matcher.suggest(engineer.profile_id, 2, COHORT)
    everyone = await matcher.suggestions(engineer.profile_id, 10, COHORT)

    assert top_two == [best.profile_id, good.profile_id]
    assert [s.mentor_id for s in everyone] == [
        best.profile_id,
        good.profile_id,
        fair.profile_id,
    ]
    scores = [s.score for s in everyone]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[1] > scores[2] > 0
    assert all(set(s.breakdown) == set(COMPONENTS) for s in everyone)
    # Suggesting proposes nothing.
    assert await matcher.open_match(engineer.profile_id) is None
    assert len(await matcher.events(MatchProposed)) == 1


async def test_a_star_mentor_appears_on_a_few_shortlists_per_free_slot(matcher: Matcher) -> None:
    policy = dataclasses.replace(COHORT, exposure_per_slot=2)
    star = mentor({PRICING: 5}, capacity=1)
    other = mentor({PRICING: 3}, capacity=5)
    first, second, third = (mentee({PRICING: (1, 4)}) for _ in range(3))
    await matcher.record(star, other, first, second, third, policy=policy)

    shown = {}
    for engineer in (first, second, third):
        shown[engineer.profile_id] = await matcher.suggest(engineer.profile_id, 2, policy)
    again = await matcher.suggest(first.profile_id, 2, policy)

    assert shown[first.profile_id] == [star.profile_id, other.profile_id]
    assert shown[second.profile_id] == [star.profile_id, other.profile_id]
    assert shown[third.profile_id] == [other.profile_id]
    assert again == [star.profile_id, other.profile_id]
    async with matcher.pool.acquire() as conn:
        exposures = await conn.fetchval(
            "SELECT count(*) FROM shortlist_exposure WHERE mentor_id = $1", star.profile_id
        )
    assert exposures == 2


async def test_a_mentee_keeps_seeing_a_mentor_whose_exposure_limit_shrank(
    matcher: Matcher,
) -> None:
    policy = dataclasses.replace(COHORT, exposure_per_slot=1)
    star = mentor({PRICING: 5}, capacity=2)
    other = mentor({PRICING: 3}, capacity=5)
    first, second, third, taker = (mentee({PRICING: (1, 4)}) for _ in range(4))
    await matcher.record(star, other, first, second, third, taker, policy=policy)
    assert await matcher.suggest(first.profile_id, 2, policy) == [star.profile_id, other.profile_id]
    assert await matcher.suggest(second.profile_id, 2, policy) == [
        star.profile_id,
        other.profile_id,
    ]
    assert await matcher.suggest(third.profile_id, 2, policy) == [other.profile_id]

    # One of the two slots goes: the star is now on more shortlists than one slot allows.
    await matcher.request(taker.profile_id, star.profile_id, policy)
    assert await matcher.load(star.profile_id) == 1

    assert await matcher.suggest(first.profile_id, 2, policy) == [star.profile_id, other.profile_id]
    assert await matcher.suggest(third.profile_id, 2, policy) == [other.profile_id]


# --- 12. cohort rounds ------------------------------------------------------------------


async def test_a_cohort_round_beats_first_come_greedy(matcher: Matcher) -> None:
    # x teaches both gaps, y only pricing (less well). a (registered first) prefers x, which
    # greedy gives it, leaving b with nobody; the optimum gives a y and b x.
    x = mentor({PRICING: 5, STAKEHOLDERS: 5}, capacity=1)
    y = mentor({PRICING: 4}, capacity=1)
    a = mentee({PRICING: (1, 5)})
    b = mentee({STAKEHOLDERS: (1, 4)})
    assert await matcher.mentor(x, COHORT) == 0
    assert await matcher.mentor(y, COHORT) == 0
    assert await matcher.mentee(a, COHORT) is None
    assert await matcher.mentee(b, COHORT) is None
    assert await matcher.events(MatchProposed) == []
    ranked_a = await ranked(matcher, a)
    assert [p.mentor_id for p in ranked_a] == [x.profile_id, y.profile_id]

    outcome = await matcher.run(lambda r, o: run_round(r, o, matchmaker(COHORT)))

    report = outcome.record
    assert report.mentees_waiting == 2
    assert report.mentors_with_slots == 2
    assert report.proposed == 2
    assert report.greedy_matched == 1
    assert report.total_score >= report.greedy_total_score
    assert report.total_score > report.greedy_total_score
    assert report.greedy_total_score == pytest.approx(ranked_a[0].score, abs=1e-3)
    assert report.mentor_load["optimal"]["slots_used"] == 2
    assert report.mentor_load["greedy"]["slots_used"] == 1
    a_match = await matcher.current(a.profile_id)
    b_match = await matcher.current(b.profile_id)
    assert a_match.mentor_id == y.profile_id
    assert b_match.mentor_id == x.profile_id
    assert {a_match.id, b_match.id} == set(outcome.match_ids)
    assert report.total_score == pytest.approx(a_match.score + b_match.score, abs=1e-3)
    for match in (a_match, b_match):
        assert (match.origin, match.round_id) == ("round", report.id)
    proposed = await matcher.events(MatchProposed)
    assert {p.match_id for p in proposed} == set(outcome.match_ids)
    assert {(p.origin, p.round_id) for p in proposed} == {("round", report.id)}
    stored = await matcher.run(lambda r, _: r.get_round(report.id))
    assert stored is not None
    assert (stored.proposed, stored.greedy_matched) == (2, 1)
    assert stored.finished_at is not None

    again = await matcher.run(lambda r, o: run_round(r, o, matchmaker(COHORT)))

    assert again.record.proposed == 0
    assert again.match_ids == []
    assert again.record.mentees_waiting == 0
    assert len(await matcher.events(MatchProposed)) == 2
    for mentor_id in (x.profile_id, y.profile_id):
        slots = await matcher.slots(mentor_id)
        assert slots is not None
        assert (slots.load, slots.capacity) == (1, 1)
    await assert_within_capacity(matcher.pool)

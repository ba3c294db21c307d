"""The matcher's cached mentor pool against a real PostgreSQL database: every match it serves
must rank exactly as a pool built afresh from the rows, through additions, profile changes,
erasures, slots taken and pauses, and it must rebuild only when profiles change."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

import asyncpg
import pytest
from matching_service.directory import MentorDirectory
from matching_service.matcher.pool import Mentee, MentorPool
from matching_service.matcher.ranking import rank_mentors
from matching_service.matcher.scoring import default_config
from matching_service.repository import MatchingRepository
from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.contracts.skills import TAXONOMY
from mentorship_shared.plumbing.database import (
    Connection,
)

from tests.support.profiles import mentee, mentor

pytestmark = pytest.mark.integration

SKILLS = list(TAXONOMY.ids)
LANGUAGES = ("en", "fr", "de")


@pytest.fixture
def pool(matching_pool: asyncpg.Pool) -> asyncpg.Pool:
    return matching_pool


def random_mentor(rng: random.Random, **changes: object) -> MentorProfile:
    levels = {skill: rng.randint(1, 5) for skill in rng.sample(SKILLS, rng.randint(2, 6))}
    settings: dict[str, object] = {
        "capacity": rng.randint(1, 3),
        "languages": tuple(rng.sample(LANGUAGES, rng.randint(1, 2))),
    }
    return mentor(levels, **(settings | changes))  # type: ignore[arg-type]


def random_mentee(rng: random.Random) -> MenteeProfile:
    gaps = {
        skill: (rng.randint(0, 2), rng.randint(3, 5))
        for skill in rng.sample(SKILLS, rng.randint(1, 5))
    }
    return mentee(gaps, languages=tuple(rng.sample(LANGUAGES, rng.randint(1, 2))))


async def store(conn: Connection, *profiles: MenteeProfile | MentorProfile) -> None:
    repo = MatchingRepository(conn)
    for profile in profiles:
        if isinstance(profile, MentorProfile):
            assert await repo.upsert_mentor(profile)
        else:
            assert await repo.upsert_mentee(profile)


async def rankings(
    conn: Connection, mentees: Sequence[Mentee], directory: MentorDirectory
) -> tuple[list[list[tuple[uuid.UUID, float, dict[str, float]]]], ...]:
    """Each mentee's full ranking from the directory and from a pool built from the rows."""
    repo = MatchingRepository(conn)
    cached, fresh = [], []
    for person in mentees:
        languages = sorted(person.languages)
        for pool, out in (
            (await directory.available(repo, languages), cached),
            (MentorPool(await repo.available_mentors(languages), default_config()), fresh),
        ):
            out.append([(p.mentor_id, p.score, p.breakdown) for p in rank_mentors(person, pool)])
    return cached, fresh


async def test_the_cached_pool_ranks_exactly_like_a_fresh_one_through_every_change(
    pool: asyncpg.Pool,
) -> None:
    rng = random.Random(7)
    directory = MentorDirectory(default_config())
    mentors = [random_mentor(rng) for _ in range(40)]
    mentee_profiles = [random_mentee(rng) for _ in range(12)]
    async with pool.acquire() as conn:
        await store(conn, *mentors, *mentee_profiles)
        repo = MatchingRepository(conn)
        mentees = [m for m in [await repo.get_mentee(p.profile_id) for p in mentee_profiles] if m]

        async def same_rankings() -> None:
            cached, fresh = await rankings(conn, mentees, directory)
            assert any(cached), "no mentee has any mentor: the comparison would prove nothing"
            assert cached == fresh

        await same_rankings()
        assert directory.rebuilds == 1

        # Slots taken and a mentor paused change free slots and the market, not profiles:
        # served from the same encoded pool.
        for profile in mentors[:10]:
            await repo.reserve_slot(profile.profile_id)
        await conn.execute(
            "UPDATE mentors SET accepting_mentees = false WHERE id = $1", mentors[10].profile_id
        )
        await same_rankings()
        assert directory.rebuilds == 1

        # New mentors, a changed profile (new version) and an erased one: rebuilt once.
        await store(conn, *(random_mentor(rng) for _ in range(5)))
        changed = random_mentor(rng, profile_id=mentors[11].profile_id, version=2)
        await store(conn, changed)
        await repo.erase(mentors[12].profile_id)
        await same_rankings()
        assert directory.rebuilds == 2

        # A stale version of a profile changes nothing in the table, so nothing is rebuilt.
        assert not await repo.upsert_mentor(mentors[11])
        await same_rankings()
        assert directory.rebuilds == 2


async def test_an_empty_table_and_a_full_market_give_no_proposal(pool: asyncpg.Pool) -> None:
    directory = MentorDirectory(default_config())
    rng = random.Random(3)
    async with pool.acquire() as conn:
        repo = MatchingRepository(conn)
        profile = random_mentee(rng)
        await store(conn, profile)
        person = await repo.get_mentee(profile.profile_id)
        assert person is not None
        empty = await directory.available(repo, sorted(person.languages))
        assert rank_mentors(person, empty) == []

        only = mentor(dict.fromkeys(SKILLS, 5), languages=tuple(person.languages), capacity=1)
        await store(conn, only)
        free = await directory.available(repo, sorted(person.languages))
        assert [p.mentor_id for p in rank_mentors(person, free)] == [only.profile_id]
        assert await repo.reserve_slot(only.profile_id)
        full = await directory.available(repo, sorted(person.languages))
        assert len(full) == 1
        assert rank_mentors(person, full) == []


async def test_a_refresh_reads_only_the_rows_that_changed(pool: asyncpg.Pool) -> None:
    rng = random.Random(11)
    directory = MentorDirectory(default_config())
    mentors = [random_mentor(rng) for _ in range(60)]
    async with pool.acquire() as conn:
        await store(conn, *mentors)
        repo = MatchingRepository(conn)
        await directory.refresh(repo)
        assert directory.rows_read == 60

        await directory.refresh(repo)  # nothing changed
        assert directory.rows_read == 60
        assert await repo.reserve_slot(mentors[5].profile_id)
        await repo.release_slot(mentors[6].profile_id)  # no slot held: changes no row
        await directory.refresh(repo)
        assert directory.rows_read == 61
        assert directory.reconciliations == 1


async def test_a_change_seen_by_its_own_transaction_is_forgotten_when_it_rolls_back(
    pool: asyncpg.Pool,
) -> None:
    rng = random.Random(12)
    directory = MentorDirectory(default_config())
    mentors = [random_mentor(rng) for _ in range(20)]
    mentee_profiles = [random_mentee(rng) for _ in range(6)]
    async with pool.acquire() as conn:
        await store(conn, *mentors, *mentee_profiles)
        repo = MatchingRepository(conn)
        mentees = [m for m in [await repo.get_mentee(p.profile_id) for p in mentee_profiles] if m]
        await directory.refresh(repo)
        transaction = conn.transaction()
        await transaction.start()
        await repo.reserve_slot(mentors[0].profile_id)
        await store(
            conn,
            random_mentor(rng),
            random_mentor(rng, profile_id=mentors[1].profile_id, version=2),
        )
        await repo.erase(mentors[2].profile_id)
        await directory.refresh(repo)  # sees its own changes, not yet committed
        assert directory.rebuilds == 2
        await transaction.rollback()

        cached, fresh = await rankings(conn, mentees, directory)
        assert any(cached)
        assert cached == fresh


async def test_two_matchers_each_see_what_the_other_committed(pool: asyncpg.Pool) -> None:
    rng = random.Random(13)
    first, second = MentorDirectory(default_config()), MentorDirectory(default_config())
    mentors = [random_mentor(rng, capacity=1) for _ in range(15)]
    mentee_profiles = [random_mentee(rng) for _ in range(6)]
    async with pool.acquire() as one, pool.acquire() as other:
        await store(one, *mentors, *mentee_profiles)
        repo_one, repo_other = MatchingRepository(one), MatchingRepository(other)
        mentees = [
            m for m in [await repo_one.get_mentee(p.profile_id) for p in mentee_profiles] if m
        ]
        await first.refresh(repo_one)
        await second.refresh(repo_other)
        async with other.transaction():
            for profile in mentors[:7]:
                assert await repo_other.reserve_slot(profile.profile_id)
            await store(other, random_mentor(rng))
        for directory in (first, second):
            cached, fresh = await rankings(one, mentees, directory)
            assert any(cached)
            assert cached == fresh


async def test_a_full_read_every_so_often_bounds_any_difference(pool: asyncpg.Pool) -> None:
    rng = random.Random(14)
    directory = MentorDirectory(default_config(), reconcile_every=0.0)
    async with pool.acquire() as conn:
        await store(conn, *(random_mentor(rng) for _ in range(10)))
        repo = MatchingRepository(conn)
        for _ in range(3):
            await directory.refresh(repo)
        assert directory.reconciliations == 3
        assert directory.rows_read == 30
        assert directory.rebuilds == 1  # the profiles did not change: the pool is kept

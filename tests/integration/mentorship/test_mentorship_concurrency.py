"""What two transactions deciding about the same people at once leave behind, on a real
PostgreSQL (the use cases without a running service)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from mentorship_service import use_cases
from mentorship_service.config import MIGRATIONS_DIR
from mentorship_service.domain import Mentorship, MentorshipPolicy
from mentorship_service.repository import MentorshipRepository
from mentorship_shared.contracts.events import MatchAccepted
from mentorship_shared.plumbing.database import (
    apply_migrations,
    connect_pool,
    load_migrations,
    plumbing_migrations,
)
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork

from tests.support.profiles import mentee

pytestmark = pytest.mark.integration

POLICY = MentorshipPolicy()
Tx = Transaction[MentorshipRepository]


@pytest.fixture
async def uow(mentorship_db: str) -> AsyncIterator[UnitOfWork[MentorshipRepository]]:
    pool = await connect_pool(mentorship_db, min_size=2, max_size=4)
    try:
        await apply_migrations(
            pool, plumbing_migrations() + load_migrations("service", MIGRATIONS_DIR)
        )
        work = UnitOfWork(MentorshipRepository, producer="mentorship")
        work.bind(pool)
        yield work
    finally:
        await pool.close()


@pytest.mark.parametrize("first", ["acceptance", "profile"])
async def test_a_profile_and_an_acceptance_at_once_leave_the_mentorship_with_its_gaps(
    uow: UnitOfWork[MentorshipRepository], first: str
) -> None:
    engineer = mentee({"pricing_monetisation": (1, 4)})
    accepted = MatchAccepted(
        match_id=uuid.uuid4(),
        mentee_id=engineer.profile_id,
        mentor_id=uuid.uuid4(),
        accepted_at=datetime.now(UTC),
    )
    inside = asyncio.Event()

    async def accept(tx: Tx) -> Mentorship | None:
        started = await use_cases.start_mentorship(tx.repo, tx.outbox, accepted, POLICY)
        await hold_open(first == "acceptance")
        return started

    async def register(tx: Tx) -> None:
        await use_cases.record_person(tx.repo, engineer, None, POLICY)
        await hold_open(first == "profile")

    async def hold_open(is_first: bool) -> None:
        # The first transaction stays open until the second has started its own decision.
        if is_first:
            inside.set()
            await asyncio.sleep(0.3)

    async def second(work: object) -> object:
        await inside.wait()
        return await uow.run(work)  # type: ignore[arg-type]

    if first == "acceptance":
        started, _ = await asyncio.gather(uow.run(accept), second(register))
    else:
        _, started = await asyncio.gather(uow.run(register), second(accept))
    assert started is not None
    async with uow.reading() as repo:
        stored = await repo.get(started.id)
    assert stored is not None
    assert [s.skill for s in stored.skills] == ["pricing_monetisation"]


async def test_the_five_goal_limit_holds_in_the_database(
    uow: UnitOfWork[MentorshipRepository], mentorship_db: str
) -> None:
    accepted = MatchAccepted(
        match_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        accepted_at=datetime.now(UTC),
    )
    started = await uow.run(
        lambda tx: use_cases.start_mentorship(tx.repo, tx.outbox, accepted, POLICY)
    )
    assert started is not None
    conn = await asyncpg.connect(mentorship_db)
    try:
        insert = (
            "INSERT INTO goals (id, mentorship_id, position, skill, title, status, proposed_at) "
            "VALUES ($1, $2, $3, 'pricing_monetisation', 'a goal', 'proposed', now())"
        )
        for position in range(1, 6):
            await conn.execute(insert, uuid.uuid4(), started.id, position)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, uuid.uuid4(), started.id, 6)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert, uuid.uuid4(), started.id, 3)
    finally:
        await conn.close()

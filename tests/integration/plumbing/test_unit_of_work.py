"""The unit of work against a real PostgreSQL: state and events commit together or not at all,
after-commit actions run only after a commit, and conflicts are run again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from mentorship_shared.contracts.events import ProfileDeleted
from mentorship_shared.plumbing.database import (
    Connection,
    apply_migrations,
    connect_pool,
    plumbing_migrations,
)
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork

pytestmark = pytest.mark.integration


class Notes:
    """A minimal repository: one table of notes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, text: str) -> None:
        await self._conn.execute("INSERT INTO notes (text) VALUES ($1)", text)

    async def all(self) -> list[str]:
        return [row["text"] for row in await self._conn.fetch("SELECT text FROM notes ORDER BY 1")]


@pytest.fixture
async def uow(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[UnitOfWork[Notes]]:
    pool = await connect_pool(await new_database("uow"), min_size=2, max_size=4)
    try:
        await apply_migrations(pool, plumbing_migrations())
        await pool.execute("CREATE TABLE notes (text text PRIMARY KEY)")
        unit = UnitOfWork(Notes, producer="notes")
        unit.bind(pool)
        yield unit
    finally:
        await pool.close()


async def _outbox(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_type FROM outbox ORDER BY id")
    return [row["event_type"] for row in rows]


def _deleted() -> ProfileDeleted:
    return ProfileDeleted(profile_id=uuid.uuid4(), kind="mentee", version=2)


async def test_state_and_events_commit_together_and_after_commit_actions_run_after(
    uow: UnitOfWork[Notes],
) -> None:
    ran: list[str] = []
    async with uow() as tx:
        await tx.repo.add("kept")
        await tx.outbox.publish(_deleted())
        await tx.outbox.publish(_deleted())
        tx.after_commit(lambda: ran.append("after"))
        # Buffered until the commit: nothing is in the table inside the transaction yet.
        assert await tx.conn.fetchval("SELECT count(*) FROM outbox") == 0
        assert ran == []
    assert ran == ["after"]
    async with uow.reading() as notes:
        assert await notes.all() == ["kept"]
    assert await _outbox(uow.pool) == ["ProfileDeleted", "ProfileDeleted"]
    rows = await uow.pool.fetch("SELECT payload FROM outbox")
    assert all(b'"producer":"notes"' in bytes(row["payload"]).replace(b" ", b"") for row in rows)


async def test_an_exception_rolls_back_state_and_events_and_skips_after_commit_actions(
    uow: UnitOfWork[Notes],
) -> None:
    ran: list[str] = []

    async def refused() -> None:
        async with uow() as tx:
            await tx.repo.add("lost")
            await tx.outbox.publish(_deleted())
            tx.after_commit(lambda: ran.append("after"))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused()
    async with uow.reading() as notes:
        assert await notes.all() == []
    assert await _outbox(uow.pool) == []
    assert ran == []


async def test_run_runs_the_work_again_after_a_deadlock(uow: UnitOfWork[Notes]) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one, and `run`
    starts it again from the start, so both notes end up written once."""
    await uow.pool.execute("INSERT INTO notes VALUES ('a'), ('b')")
    both_locked_one = asyncio.Barrier(2)
    attempts = {"ab": 0, "ba": 0}

    def crossing(first: str, second: str) -> Callable[[Transaction[Notes]], Awaitable[None]]:
        async def work(tx: Transaction[Notes]) -> None:
            attempts[first + second] += 1
            await tx.conn.execute("SELECT 1 FROM notes WHERE text = $1 FOR UPDATE", first)
            if attempts[first + second] == 1:
                await both_locked_one.wait()
            await tx.conn.execute("SELECT 1 FROM notes WHERE text = $1 FOR UPDATE", second)
            await tx.repo.add(f"{first}{second}")

        return work

    await asyncio.gather(uow.run(crossing("a", "b")), uow.run(crossing("b", "a")))

    async with uow.reading() as notes:
        assert await notes.all() == ["a", "ab", "b", "ba"]
    assert sorted(attempts.values()) == [1, 2]  # exactly one of them ran twice

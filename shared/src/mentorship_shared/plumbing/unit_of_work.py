"""One unit of work: a transaction with the service's repository and outbox on one connection.

Every HTTP route, consumer handler and background worker of every service changes state the
same way: `async with uow() as tx`, then the use case with `tx.repo` and `tx.outbox`. The state
and the events it raises commit together or not at all. The outbox keeps the transaction's
events in memory and writes them in one round trip just before the commit, in the order they
were raised. Work that may meet a deadlock or a serialization conflict with a concurrent
transaction goes through `uow.run(...)`, which runs it again from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg

from .database import RETRYABLE_CONFLICTS, Connection
from .outbox import BufferedOutbox
from .retry import backoff_delay
from .settings import ServiceSettings

log = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class Transaction(Generic[R]):
    """One open transaction: the service's repository and the outbox on the same connection."""

    repo: R
    outbox: BufferedOutbox
    #: For the plumbing (inbox rows); service code goes through `repo` and `outbox`.
    conn: Connection
    _after_commit: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the transaction has committed (never if it rolls back): for
        counters and other effects that must only count what happened."""
        self._after_commit.append(action)


class UnitOfWork(Generic[R]):
    """Opens transactions on the service's pool; the runtime binds the pool at start-up."""

    def __init__(self, repository: Callable[[Connection], R], *, producer: str) -> None:
        self._repository = repository
        self.producer = producer
        self._pool: asyncpg.Pool | None = None

    @classmethod
    def of(cls, settings: ServiceSettings, repository: Callable[[Connection], R]) -> UnitOfWork[R]:
        """The unit of work of a service: its repository, events named after the service."""
        return cls(repository, producer=settings.service_name)

    def bind(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the unit of work has no pool yet: the service has not started")
        return self._pool

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[Transaction[R]]:
        """`async with uow() as tx:` one transaction on a pooled connection, committed on a
        normal exit (with the outbox rows written just before), rolled back on an exception."""
        async with self.pool.acquire() as conn, self.on_connection(conn) as tx:
            yield tx

    @contextlib.asynccontextmanager
    async def on_connection(self, conn: Connection) -> AsyncIterator[Transaction[R]]:
        """The same, on a connection the caller holds (a background worker's own)."""
        tx = self.on(conn)
        async with conn.transaction():
            yield tx
            await tx.outbox.flush()
        for action in tx._after_commit:
            action()

    def on(self, conn: Connection) -> Transaction[R]:
        """A transaction's ports on a connection whose transaction the caller owns (the
        consumer runs several handlers in one); the caller flushes the outbox before commit."""
        return Transaction(
            repo=self._repository(conn),
            outbox=BufferedOutbox(conn, producer=self.producer),
            conn=conn,
        )

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[R]:
        """`async with uow.reading() as repo:` the repository on a pooled connection, outside
        any transaction (for plain reads)."""
        async with self.pool.acquire() as conn:
            yield self._repository(conn)

    async def run(self, work: Callable[[Transaction[R]], Awaitable[T]], *, attempts: int = 5) -> T:
        """`work` in one transaction; run again from the start (after a jittered pause) when
        PostgreSQL aborted it for a deadlock or a serialization conflict."""
        for attempt in range(1, attempts + 1):
            try:
                async with self() as tx:
                    return await work(tx)
            except RETRYABLE_CONFLICTS as error:
                if attempt == attempts:
                    raise
                delay = backoff_delay(attempt, base=0.02, cap=1.0)
                log.info(
                    "transaction conflict (%s); running it again in %.2f s",
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

"""The mail dispatcher: sends due notifications, a batch per transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.unit_of_work import UnitOfWork
from mentorship_shared.plumbing.worker import PollingWorker

from . import use_cases
from .mailer import Mailer
from .repository import NotificationRepository

_WAKE_CHANNEL = "notifications_due"


class MailDispatcher(PollingWorker):
    """Sends due notifications, up to `concurrency` at once, in batches of `batch_size`.

    A batch is one transaction: it locks up to `batch_size` due notifications (SKIP LOCKED, so
    batches and instances share the work without sending one twice), sends them all at once
    (each over an SMTP connection of its own, kept open between mails), records each outcome
    and commits once, with the batch's NotificationSent events. `concurrency / batch_size`
    lanes run batches side by side; a lane starts only when the one before it found a full
    batch, so a wake-up that finds nothing due costs one query. The first lane works on the
    dispatcher's own connection, the others on pooled ones held while they run. Mails to one
    person may leave in any order.

    One transaction a batch rather than a mail saves the lock query, the commit and the outbox
    write a mail. The price: if the process dies in the middle of a batch, the mails of the
    batch that did go out are sent again (with the same Message-ID, so they read as
    duplicates): at most `concurrency` mails, whatever the batch size."""

    def __init__(
        self,
        uow: UnitOfWork[NotificationRepository],
        mailer: Mailer,
        policy: use_cases.DeliveryPolicy,
        *,
        poll_interval: float,
        batch_size: int = 1,
        concurrency: int = 1,
        batches_per_run: int = 5,
    ) -> None:
        super().__init__(name="mail-dispatcher", channel=_WAKE_CHANNEL, poll_interval=poll_interval)
        self._mailer = mailer
        self._policy = policy
        self._uow = uow
        self._batch_size = min(batch_size, concurrency)
        self._lanes = max(1, concurrency // self._batch_size)
        self._batches_per_run = batches_per_run

    async def run_once(self) -> bool:
        return await self._lane(0)

    async def _lane(self, index: int) -> bool:
        """Up to `batches_per_run` batches; True if this lane or a later one stopped with more
        due. Its first full batch starts the next lane."""
        more = False
        helper: asyncio.Task[bool] | None = None
        try:
            async with self._connection(index) as conn:
                for _ in range(self._batches_per_run):
                    more = await self.send_batch(conn) >= self._batch_size
                    if not more:
                        break
                    if helper is None and index + 1 < self._lanes:
                        helper = asyncio.create_task(self._lane(index + 1))
        except BaseException:
            if helper is not None:
                # Not left running on its own when this lane fails or is cancelled.
                helper.cancel()
                await asyncio.wait([helper])
            raise
        if helper is not None:
            more = await helper or more
        return more

    @contextlib.asynccontextmanager
    async def _connection(self, lane: int) -> AsyncIterator[Connection]:
        if lane == 0:
            yield await self.held_connection()
        else:
            async with self.pool.acquire() as conn:
                yield conn

    async def close(self) -> None:
        await self._mailer.close()

    async def send_batch(self, conn: Connection | None = None) -> int:
        """Send up to `batch_size` due notifications; returns how many were due (0: none)."""
        conn = conn if conn is not None else await self.held_connection()
        async with self._uow.on_connection(conn) as tx:
            batch = await tx.repo.lock_due(self._batch_size)
            if not batch:
                return 0
            await use_cases.deliver_batch(
                tx.repo, tx.outbox, self._mailer, batch, self._policy, concurrency=len(batch)
            )
        return len(batch)

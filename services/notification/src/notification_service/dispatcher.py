"""The mail dispatcher: sends due notifications, a batch per transaction."""

from __future__ import annotations

from mentorship_shared.plumbing.unit_of_work import UnitOfWork
from mentorship_shared.plumbing.worker import PollingWorker

from . import use_cases
from .mailer import Mailer
from .repository import NotificationRepository

_WAKE_CHANNEL = "notifications_due"


class MailDispatcher(PollingWorker):
    """Sends due notifications in batches. A batch is one transaction on the dispatcher's own
    connection: it locks up to `batch_size` due notifications (SKIP LOCKED, so instances share
    the work without sending one twice), sends them `concurrency` at a time (each over an SMTP
    connection of its own, kept open between mails), records each outcome and commits once,
    with the batch's NotificationSent events. Mails to one person may leave in any order.

    One transaction a batch rather than a mail saves the lock query, the commit and the outbox
    write a mail, and a wake-up that finds nothing due costs one query, not one a lane. The
    price: if the process dies in the middle of a batch, the mails of the batch that did go
    out are sent again (with the same Message-ID, so they read as duplicates), at most
    `batch_size` of them; the default batch is as large as the mails sent at once."""

    def __init__(
        self,
        uow: UnitOfWork[NotificationRepository],
        mailer: Mailer,
        policy: use_cases.DeliveryPolicy,
        *,
        poll_interval: float,
        batch_size: int = 1,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name="mail-dispatcher", channel=_WAKE_CHANNEL, poll_interval=poll_interval)
        self._mailer = mailer
        self._policy = policy
        self._uow = uow
        self._batch_size = batch_size
        self._concurrency = concurrency

    async def run_once(self) -> bool:
        return await self.send_batch() >= self._batch_size

    async def close(self) -> None:
        await self._mailer.close()

    async def send_batch(self) -> int:
        """Send up to `batch_size` due notifications; returns how many were due (0: none)."""
        conn = await self.held_connection()
        async with self._uow.on_connection(conn) as tx:
            batch = await tx.repo.lock_due(self._batch_size)
            if not batch:
                return 0
            await use_cases.deliver_batch(
                tx.repo, tx.outbox, self._mailer, batch, self._policy, concurrency=self._concurrency
            )
        return len(batch)

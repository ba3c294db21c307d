"""The mail dispatcher: sends due notifications, a batch per transaction."""

from __future__ import annotations

import asyncio

from mentorship_shared.plumbing.unit_of_work import UnitOfWork
from mentorship_shared.plumbing.worker import PollingWorker

from . import use_cases
from .mailer import Mailer
from .repository import NotificationRepository

_WAKE_CHANNEL = "notifications_due"


class MailDispatcher(PollingWorker):
    """Sends due notifications in `concurrency` lanes. Each lane locks up to `batch_size` due
    notifications (SKIP LOCKED, so lanes and instances share the work without sending one
    twice), sends them one after the other, records each outcome and commits once, with the
    batch's NotificationSent events. Lanes keep the SMTP round trips of several mails in
    flight at once; mails to one person may leave in any order.

    One transaction a batch rather than a mail saves the lock query and the commit a mail. The
    price: if the process dies in the middle of a batch, the mails of the batch that did go
    out are sent again (with the same Message-ID, so they read as duplicates), at most
    `batch_size` x `concurrency` of them. The service's default is a batch of one: ten kills
    in the fault suite sent 85 mails twice with batches of ten, 6 with batches of one."""

    def __init__(
        self,
        uow: UnitOfWork[NotificationRepository],
        mailer: Mailer,
        policy: use_cases.DeliveryPolicy,
        *,
        poll_interval: float,
        batch_size: int = 1,
        batches_per_run: int = 5,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name="mail-dispatcher", channel=_WAKE_CHANNEL, poll_interval=poll_interval)
        self._mailer = mailer
        self._policy = policy
        self._uow = uow
        self._batch_size = batch_size
        self._batches_per_run = batches_per_run
        self._concurrency = concurrency

    async def run_once(self) -> bool:
        lanes = await asyncio.gather(*(self._lane() for _ in range(self._concurrency)))
        return any(lanes)

    async def _lane(self) -> bool:
        """Up to `batches_per_run` batches; True if it stopped with more due."""
        for _ in range(self._batches_per_run):
            if await self.send_batch() < self._batch_size:
                return False
        return True

    async def close(self) -> None:
        await self._mailer.close()

    async def send_batch(self) -> int:
        """Send up to `batch_size` due notifications; returns how many were due (0: none)."""
        async with self._uow() as tx:
            batch = await tx.repo.lock_due(self._batch_size)
            if not batch:
                return 0
            await use_cases.deliver_batch(tx.repo, tx.outbox, self._mailer, batch, self._policy)
        return len(batch)

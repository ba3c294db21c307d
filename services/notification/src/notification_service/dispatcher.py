"""The mail dispatcher: sends due notifications, one transaction per mail."""

from __future__ import annotations

import asyncio

from mentorship_shared.plumbing.outbox import Outbox
from mentorship_shared.plumbing.tracing import span_continuing
from mentorship_shared.plumbing.worker import PollingWorker

from . import use_cases
from .mailer import Mailer
from .repository import NotificationRepository

_WAKE_CHANNEL = "notifications_due"


class MailDispatcher(PollingWorker):
    """Sends due notifications in `concurrency` lanes. Each lane locks one due notification at
    a time (SKIP LOCKED, so lanes and instances share the work without sending one twice),
    sends it and records the outcome before the lock is released. Lanes keep the SMTP round
    trips of several mails in flight at once; mails to one person may leave in any order."""

    def __init__(
        self,
        mailer: Mailer,
        policy: use_cases.DeliveryPolicy,
        *,
        producer: str,
        poll_interval: float,
        batch_size: int = 50,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name="mail-dispatcher", channel=_WAKE_CHANNEL, poll_interval=poll_interval)
        self._mailer = mailer
        self._policy = policy
        self._producer = producer
        self._batch_size = batch_size
        self._concurrency = concurrency

    async def run_once(self) -> bool:
        lanes = await asyncio.gather(*(self._lane() for _ in range(self._concurrency)))
        return any(lanes)

    async def _lane(self) -> bool:
        """Up to `batch_size` mails; True if it stopped with more due."""
        for _ in range(self._batch_size):
            if not await self.send_next():
                return False
        return True

    async def close(self) -> None:
        await self._mailer.close()

    async def send_next(self) -> bool:
        """Send the next due notification; False when none is due."""
        async with self.pool.acquire() as conn, conn.transaction():
            repo = NotificationRepository(conn)
            due = await repo.lock_next_due()
            if due is None:
                return False
            # The mail was queued by a consumer, in the trace of the event behind it.
            with span_continuing(
                "deliver notification",
                due.traceparent,
                attributes={"notification.id": str(due.intent.id)},
            ):
                await use_cases.deliver(
                    repo, Outbox(conn, producer=self._producer), self._mailer, due, self._policy
                )
        return True

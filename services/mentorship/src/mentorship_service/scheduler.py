"""What time does to mentorships: reminders, nudges, lapses, outcomes. A background loop in
every instance of the service."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import partial

from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork
from mentorship_shared.plumbing.worker import TRANSIENT_ERRORS, PollingWorker

from . import metrics, use_cases
from .domain import MentorshipPolicy
from .repository import MentorshipRepository
from .use_cases import Clock

log = logging.getLogger(__name__)


class CheckInScheduler(PollingWorker):
    """Every `poll_interval` seconds, finds the mentorships whose next moment has come (their
    stored `wake_at`) and acts on each in a transaction of its own, under the mentorship's row
    lock taken with SKIP LOCKED: several instances share the work, and the state that says a
    reminder was issued commits with the reminder's event, so none is raised twice.

    "Now" is the service's clock, so tests move time instead of waiting for it."""

    def __init__(
        self,
        uow: UnitOfWork[MentorshipRepository],
        policy: MentorshipPolicy,
        clock: Clock,
        *,
        poll_interval: float,
        batch_size: int = 100,
    ) -> None:
        # Nothing NOTIFYs this channel: due moments come with time, which the poll finds.
        super().__init__(
            name="check-in-scheduler", channel="mentorships_due", poll_interval=poll_interval
        )
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._batch_size = batch_size

    async def run_once(self) -> bool:
        now = self._clock()
        async with self._uow.reading() as repo:
            due = await repo.due(now, self._batch_size)
        acted = 0
        for mentorship_id in due:
            try:
                raised = await self._uow.run(partial(self._act, mentorship_id, now))
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                # One mentorship that cannot be handled must not hold back the others; it is
                # tried again at the next pass.
                log.exception("mentorship %s: the scheduled step failed", mentorship_id)
                continue
            acted += 1
            if raised:
                log.info(
                    "mentorship %s: %s",
                    mentorship_id,
                    ", ".join(event.event_type for event in raised),
                )
        return acted > 0 and len(due) == self._batch_size

    async def _act(
        self, mentorship_id: uuid.UUID, now: datetime, tx: Transaction[MentorshipRepository]
    ) -> list[EventPayload]:
        raised = await use_cases.act_on_time(tx.repo, tx.outbox, mentorship_id, now, self._policy)
        for event in raised:
            tx.after_commit(metrics.SCHEDULED_EVENTS.labels(event.event_type).inc)
        return raised

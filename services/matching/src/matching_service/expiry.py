"""Lets unanswered proposals lapse: a background loop in every matcher instance."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from functools import partial

from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork
from mentorship_shared.plumbing.worker import PollingWorker

from .repository import MatchingRepository
from .use_cases.answers import expire_match
from .use_cases.common import Matchmaker

log = logging.getLogger(__name__)


class ProposalExpirer(PollingWorker):
    """Every `poll_interval` seconds, expires lapsed proposals one transaction each, so one
    failure never holds back the others. Several instances share the work: each proposal is
    expired under its mentee's and its own row lock, and a second look finds it ended."""

    def __init__(
        self,
        uow: UnitOfWork[MatchingRepository],
        matchmaker: Matchmaker,
        *,
        poll_interval: float,
        batch_size: int = 100,
    ) -> None:
        super().__init__(
            name="proposal-expirer", channel="matches_due", poll_interval=poll_interval
        )
        self._uow = uow
        self._matchmaker = matchmaker
        self._batch_size = batch_size

    async def run_once(self) -> bool:
        async with self._uow.reading() as repo:
            due = await repo.due_proposals(datetime.now(UTC), self._batch_size)
        expired = 0
        for match_id in due:
            expired += await self._uow.run(partial(self._expire, match_id))
        if expired:
            log.info("%d proposals lapsed", expired)
        return len(due) == self._batch_size

    async def _expire(self, match_id: uuid.UUID, tx: Transaction[MatchingRepository]) -> bool:
        return await expire_match(tx.repo, tx.outbox, self._matchmaker, match_id)

"""The matcher's in-process copy of every mentor as a scoring pool.

Building a `MentorPool` means reading every mentor row and encoding skills, languages and
industries; with thousands of mentors that is most of the cost of an online match, and the
mentors rarely change between two matches. The directory keeps the encoded pool and everyone's
free slots, and for each match reads only what changed since its last read: the mentors table
keeps a change feed (every row stamped with the transaction that last changed it, erasures
recorded; migration 0007), so a match costs one indexed read of the few rows that changed, not
a read of the whole table. A changed profile re-encodes only that mentor (`MentorPool.changed`,
in place when no match holds a view of the pool); a slot taken or given back changes one number.

Free slots still come from the database in the caller's transaction, and `reserve_slot` still
re-checks them under the mentor's row lock: the cache can only make a proposal try a mentor
whose last slot was just taken (the reservation says no and the next is tried), never
over-book one. A change made by the reading transaction itself, which may yet roll back, is
read again until it is seen committed. And every `reconcile_every` seconds the directory reads
every mentor afresh, which bounds how long any difference could last.

One directory per matcher process, created at start-up and shared by its consumers, API and
workers (one event loop). It reads through the repository it is handed, never on its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np

from .matcher.pool import Mentor, MentorPool
from .matcher.scoring import ScoringConfig
from .repository import MentorChanges

#: Seconds between two full reads of the mentors table.
RECONCILE_EVERY = 300.0


class MentorSource(Protocol):
    """The read the directory needs (`MatchingRepository` has it)."""

    async def mentor_changes(
        self,
        since: int,
        also: Sequence[uuid.UUID] = (),
        closed_for: uuid.UUID | None = None,
    ) -> MentorChanges: ...


class MentorDirectory:
    def __init__(self, config: ScoringConfig, reconcile_every: float = RECONCILE_EVERY) -> None:
        self._config = config
        self._reconcile_every = reconcile_every
        self._pool = MentorPool([], config)
        self._versions: dict[uuid.UUID, int] = {}
        self._horizon: int | None = None
        self._feed: uuid.UUID | None = None
        self._reconciled_at = 0.0
        #: Mentors read in a state not yet known to be committed: read again next time.
        self._unsettled: set[uuid.UUID] = set()
        self.rebuilds = 0  # times the encoded pool changed (profiles, not slots)
        self.reconciliations = 0  # full reads of the mentors table
        self.rows_read = 0  # mentor rows read, over every refresh
        self.refreshes = 0

    async def available(
        self,
        source: MentorSource,
        languages: Collection[str] | None = None,
        include: Collection[uuid.UUID] = (),
    ) -> MentorPool:
        """Every mentor as of now, with free slots, scored against the market of available
        mentors (sharing one of `languages`, if given, plus `include` whatever their slots):
        exactly as a pool built from `MatchingRepository.available_mentors(languages)` (plus
        those in `include`) would score."""
        await self.refresh(source)
        return self._view(languages, include)

    async def available_to(
        self,
        source: MentorSource,
        mentee_id: uuid.UUID,
        languages: Collection[str] | None = None,
        include: Collection[uuid.UUID] = (),
    ) -> tuple[MentorPool, set[uuid.UUID]]:
        """`available`, and the mentors never to propose to `mentee_id` again, read by the
        refresh's own statement: one round trip a match instead of two."""
        closed = await self.refresh(source, closed_for=mentee_id)
        return self._view(languages, include), closed

    def _view(
        self, languages: Collection[str] | None, include: Collection[uuid.UUID]
    ) -> MentorPool:
        # A copy of the slots: the use case counts the slots it takes on its own view.
        return self._pool.available(self._pool.free_slots.copy(), languages, include)

    async def refresh(
        self, source: MentorSource, *, closed_for: uuid.UUID | None = None
    ) -> set[uuid.UUID]:
        """Catch up with the mentors table: the changes since the last read, or everything
        when the last full read is `reconcile_every` seconds old. Returns the closed pairs of
        `closed_for` (none without), read in the same statement."""
        now = time.monotonic()
        if self._horizon is None or now - self._reconciled_at >= self._reconcile_every:
            changes = await source.mentor_changes(0, closed_for=closed_for)
            self._reconcile(changes)
            self._reconciled_at = now
        else:
            changes = await source.mentor_changes(
                self._horizon, sorted(self._unsettled), closed_for=closed_for
            )
            if changes.feed != self._feed:  # another database: its horizon means nothing here
                changes = await source.mentor_changes(0, closed_for=closed_for)
                self._reconcile(changes)
                self._reconciled_at = now
            else:
                self._apply(changes, self._unsettled)
        self.rows_read += len(changes.mentors)
        self.refreshes += 1
        self._horizon = changes.horizon
        self._feed = changes.feed
        # A row stamped at or above the horizon may be this reader's own uncommitted change.
        self._unsettled = {
            mentor.id
            for mentor, stamp in zip(changes.mentors, changes.changed_in, strict=True)
            if stamp >= changes.horizon
        } | {
            mentor_id
            for mentor_id, stamp in zip(changes.erased, changes.erased_in, strict=True)
            if stamp >= changes.horizon
        }
        return set(changes.closed)

    def _reconcile(self, changes: MentorChanges) -> None:
        """Every mentor afresh: the pool rebuilt only if some profile differs."""
        versions = dict(zip((m.id for m in changes.mentors), changes.versions, strict=True))
        if versions != self._versions:
            mentors = sorted(changes.mentors, key=lambda mentor: mentor.id)
            self._pool = MentorPool(mentors, self._config)
            self._versions = versions
            self.rebuilds += 1
        else:
            self._set_free_slots(changes.mentors)
        self.reconciliations += 1

    def _apply(self, changes: MentorChanges, unsettled: Collection[uuid.UUID]) -> None:
        present = {mentor.id for mentor in changes.mentors}
        # An unsettled mentor read again and not found was added by a transaction that then
        # rolled back (or erased since): gone either way.
        vanished = {*changes.erased, *(set(unsettled) - present)}
        erased = [i for i in vanished if i in self._versions and i not in present]
        changed = [
            mentor
            for mentor, version in zip(changes.mentors, changes.versions, strict=True)
            if self._versions.get(mentor.id) != version
        ]
        if changed or erased:
            # The directory alone keeps its pool; everyone else gets views of it.
            self._pool = self._pool.changed(changed, erased, sole_owner=True)
            for mentor_id in erased:
                del self._versions[mentor_id]
            self._versions.update(
                zip((m.id for m in changes.mentors), changes.versions, strict=True)
            )
            self.rebuilds += 1
        self._set_free_slots(changes.mentors)

    def _set_free_slots(self, mentors: Sequence[Mentor]) -> None:
        position = self._pool.position
        columns = np.array([position[m.id] for m in mentors], dtype=np.intp)
        self._pool.free_slots[columns] = [m.free_slots for m in mentors]

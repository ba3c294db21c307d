"""The matcher's in-process copy of every mentor as a scoring pool.

Building a `MentorPool` means reading every mentor row and encoding skills, languages and
industries; with thousands of mentors that is most of the cost of an online match, and the
mentors rarely change between two matches. The directory keeps the encoded pool and, for each
match, reads only a fingerprint of the mentors table plus everyone's free slots (one row of
arrays). A changed fingerprint (a mentor added, erased or at a new profile version) rebuilds the
pool, loading in full only the mentors that changed. Free slots always come from the database
in the caller's transaction, and `reserve_slot` still re-checks them under the mentor's row lock.

One directory per matcher process, created at start-up and shared by its consumers, API and
workers (one event loop). It reads through the repository it is handed, never on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Protocol

from .matcher.pool import Mentor, MentorPool
from .matcher.scoring import IntArray, ScoringConfig
from .repository import Fingerprint, MentorTable, MentorTableState


class MentorSource(Protocol):
    """The reads the directory needs (`MatchingRepository` has them)."""

    async def mentor_table_state(self) -> MentorTableState: ...

    async def mentor_table(self) -> MentorTable: ...

    async def mentors_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mentor]: ...


class MentorDirectory:
    def __init__(self, config: ScoringConfig) -> None:
        self._config = config
        self._fingerprint: Fingerprint = (0, 0, 0)
        self._versions: dict[uuid.UUID, int] = {}
        self._mentors: dict[uuid.UUID, Mentor] = {}
        self._pool = MentorPool([], config)
        self.rebuilds = 0

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
        state = await source.mentor_table_state()
        if state.fingerprint == self._fingerprint:
            free = state.free_slots
        else:
            free = await self._refresh(source)
        return self._pool.available(free, languages, include)

    async def _refresh(self, source: MentorSource) -> IntArray:
        """Rebuild the pool from one consistent read; only new or changed mentors are loaded in
        full. Returns the free slots of that read, in the new pool's column order."""
        table = await source.mentor_table()
        stale = [
            mentor_id
            for mentor_id, version in zip(table.ids, table.versions, strict=True)
            if self._versions.get(mentor_id) != version
        ]
        fresh = await source.mentors_by_id(stale)
        if len(fresh) < len(stale):
            # Erased between the two statements: read again rather than build a pool whose
            # columns differ from the free slots just read.
            return await self._refresh(source)
        mentors = [fresh.get(mentor_id) or self._mentors[mentor_id] for mentor_id in table.ids]
        self._pool = MentorPool(mentors, self._config)
        self._mentors = {mentor.id: mentor for mentor in mentors}
        self._versions = dict(zip(table.ids, table.versions, strict=True))
        self._fingerprint = table.fingerprint
        self.rebuilds += 1
        return table.free_slots

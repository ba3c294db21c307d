"""The matcher's in-process copy of every mentor as a scoring pool.

Building a `MentorPool` means reading every mentor row and encoding skills, languages and
industries; with thousands of mentors that is most of the cost of an online match, and the
mentors rarely change between two matches. The directory keeps the encoded pool and, for each
match, reads only a fingerprint of the mentors table plus everyone's free slots (one row of
arrays). A changed fingerprint (a mentor added, erased or at a new profile version) rebuilds the
pool from the rows that changed. Free slots always come from the database in the caller's
transaction, and `reserve_slot` still re-checks them under the mentor's row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from decimal import Decimal

import numpy as np
from mentorship_shared.plumbing.database import Connection

from .matcher.pool import Mentor, MentorPool
from .matcher.scoring import IntArray, ScoringConfig
from .repository import mentors_by_id

# The fingerprint changes whenever a mentor is added or erased (count and id hashes) or any
# profile version grows (versions only grow). Free slots come in id order, the pool's columns.
_STATE = """
SELECT count(*) AS mentors,
       coalesce(sum(version), 0) AS versions,
       coalesce(sum(hashtextextended(id::text, 0)), 0) AS ids,
       array_agg(CASE WHEN accepting_mentees THEN GREATEST(capacity - load, 0) ELSE 0 END
                 ORDER BY id) AS free_slots
FROM mentors
"""
_ROWS = """
SELECT id, version, hashtextextended(id::text, 0) AS id_hash,
       CASE WHEN accepting_mentees THEN GREATEST(capacity - load, 0) ELSE 0 END AS free_slots
FROM mentors ORDER BY id
"""

Fingerprint = tuple[int, int, Decimal]


class MentorDirectory:
    """One per matcher process; shared by its consumers and API handlers (single event loop)."""

    def __init__(self, config: ScoringConfig) -> None:
        self._config = config
        self._fingerprint: Fingerprint = (0, 0, Decimal(0))
        self._versions: dict[uuid.UUID, int] = {}
        self._mentors: dict[uuid.UUID, Mentor] = {}
        self._pool = MentorPool([], config)
        self.rebuilds = 0

    async def available(
        self, conn: Connection, languages: Collection[str] | None = None
    ) -> MentorPool:
        """The pool of mentors with a free slot as of now, scored against the market of
        available mentors (sharing one of `languages`, if given), exactly as a pool built from
        `MatchingRepository.available_mentors(languages)` would score."""
        state = await conn.fetchrow(_STATE)
        assert state is not None
        fingerprint: Fingerprint = (state["mentors"], state["versions"], Decimal(state["ids"]))
        if fingerprint == self._fingerprint:
            free = np.array(state["free_slots"] or [], dtype=np.intp)
        else:
            free = await self._refresh(conn)
        return self._pool.available(free, languages)

    async def _refresh(self, conn: Connection) -> IntArray:
        """Rebuild the pool from one consistent read; only new or changed mentors are loaded in
        full. Returns the free slots of that read, in the new pool's column order."""
        rows = await conn.fetch(_ROWS)
        stale = [row["id"] for row in rows if self._versions.get(row["id"]) != row["version"]]
        fresh = await mentors_by_id(conn, stale)
        if len(fresh) < len(stale):
            # Erased between the two statements: read again rather than build a pool whose
            # columns differ from the free slots just read.
            return await self._refresh(conn)
        mentors = [fresh.get(row["id"]) or self._mentors[row["id"]] for row in rows]
        self._pool = MentorPool(mentors, self._config)
        self._mentors = {mentor.id: mentor for mentor in mentors}
        self._versions = {row["id"]: row["version"] for row in rows}
        self._fingerprint = (
            len(rows),
            sum(row["version"] for row in rows),
            Decimal(sum(row["id_hash"] for row in rows)),
        )
        self.rebuilds += 1
        return np.array([row["free_slots"] for row in rows], dtype=np.intp)

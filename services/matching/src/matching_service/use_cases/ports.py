"""The ports the use cases work through, as protocols: the repository (`MatchingRepository`
in the service) and the mentor pools (`MentorDirectory`). Events go out through the outbox's
`EventSink`. Unit tests hand the use cases in-memory fakes of these."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.plumbing.outbox import EventSink

from ..directory import MentorSource
from ..match import Match, MatchStatus
from ..matcher.pool import Mentee, Mentor, MentorPool
from ..outcome import MatchOutcome
from ..repository import IssuedPlan, MentorLoad, RoundRecord

__all__ = ["EventSink", "MatchingStore", "MentorPools"]


class MatchingStore(MentorSource, Protocol):
    """The matcher's tables, in the caller's transaction."""

    # --- profiles ---
    async def upsert_mentee(
        self, profile: MenteeProfile, credential: str | None = None
    ) -> Mentee | None: ...

    async def upsert_mentor(
        self, profile: MentorProfile, credential: str | None = None
    ) -> bool: ...

    async def erase(self, profile_id: uuid.UUID) -> None: ...

    async def lock_mentee(self, mentee_id: uuid.UUID) -> Mentee | None: ...

    async def get_mentee(self, mentee_id: uuid.UUID) -> Mentee | None: ...

    async def get_mentees(
        self, mentee_ids: Sequence[uuid.UUID], *, waiting_only: bool = False
    ) -> list[Mentee]: ...

    async def lock_waiting_mentee(self, mentee_id: uuid.UUID) -> Mentee | None: ...

    async def lock_waiting_mentees(
        self, languages: Sequence[str] | None, limit: int
    ) -> list[uuid.UUID]: ...

    async def lock_mentor(self, mentor_id: uuid.UUID) -> MentorLoad | None: ...

    async def mentor_languages(self, mentor_id: uuid.UUID) -> list[str] | None: ...

    async def mentors_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mentor]: ...

    # --- matches and slots ---
    async def open_match(self, mentee_id: uuid.UUID) -> Match | None: ...

    async def open_matches_of(self, profile_id: uuid.UUID) -> list[Match]: ...

    async def get_match(self, match_id: uuid.UUID) -> Match | None: ...

    async def lock_match(self, match_id: uuid.UUID) -> Match | None: ...

    async def closed_pairs(
        self, mentee_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[uuid.UUID]]: ...

    async def reserve_slot(self, mentor_id: uuid.UUID) -> bool: ...

    async def release_slot(self, mentor_id: uuid.UUID) -> None: ...

    async def add_match(self, match: Match) -> None: ...

    async def save_match(self, match: Match, *, was: MatchStatus) -> None: ...

    # --- shortlists and rounds ---
    async def exposure(
        self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID], since: datetime
    ) -> dict[uuid.UUID, tuple[int, bool]]: ...

    async def record_exposure(
        self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID]
    ) -> None: ...

    async def add_round(self, report: RoundRecord) -> None: ...

    # --- learning plans and outcomes ---
    async def record_learning_plan(
        self, mentee_id: uuid.UUID, digest: str, resources_version: int
    ) -> int | None: ...

    async def latest_learning_plan(self, mentee_id: uuid.UUID) -> IssuedPlan | None: ...

    async def add_outcome(self, outcome: MatchOutcome) -> bool: ...


class MentorPools(Protocol):
    """Where the use cases get the mentors they score against."""

    async def available(
        self,
        source: MentorSource,
        languages: Collection[str] | None = None,
        include: Collection[uuid.UUID] = (),
    ) -> MentorPool: ...

    async def available_to(
        self,
        source: MentorSource,
        mentee_id: uuid.UUID,
        languages: Collection[str] | None = None,
        include: Collection[uuid.UUID] = (),
    ) -> tuple[MentorPool, set[uuid.UUID]]:
        """`available`, and the mentors never to propose to this mentee again, read in the
        same round trip."""
        ...

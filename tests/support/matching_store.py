"""An in-memory stand-in for the matcher's repository, for the unit tests of its use cases
(never for integration tests: those run the real `MatchingRepository` on PostgreSQL).

It keeps the rules the database enforces for the real one: a version only replaces an older
one, an erased profile never returns, at most one open match per mentee, a slot is taken only
while the mentor accepts mentees and has one free, and a changed match must still be in the
status it was read in."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from matching_service.match import Match, MatchStatus
from matching_service.matcher.pool import (
    Mentee,
    Mentor,
    free_slots,
    skill_vector,
    utc_offset_hours,
)
from matching_service.matcher.scoring import IntArray
from matching_service.outcome import MatchOutcome
from matching_service.repository import (
    IssuedPlan,
    MentorChanges,
    MentorLoad,
    RoundRecord,
)
from mentorship_shared.contracts.events import MenteeProfile, MentorProfile


@dataclass
class StoredMentor:
    profile: MentorProfile
    capacity: int
    requested_capacity: int
    load: int = 0


@dataclass
class FakeMatchingStore:
    """The `MatchingStore` protocol (and the mentor directory's `MentorSource`) over dicts."""

    mentees: dict[uuid.UUID, MenteeProfile] = field(default_factory=dict)
    mentors: dict[uuid.UUID, StoredMentor] = field(default_factory=dict)
    matches: dict[uuid.UUID, Match] = field(default_factory=dict)
    erased: set[uuid.UUID] = field(default_factory=set)
    shown: dict[tuple[uuid.UUID, uuid.UUID], datetime] = field(default_factory=dict)
    rounds: list[RoundRecord] = field(default_factory=list)
    credentials: dict[uuid.UUID, str | None] = field(default_factory=dict)
    #: Per mentee, every plan version issued: (digest, catalogue version).
    plans: dict[uuid.UUID, list[tuple[str, int]]] = field(default_factory=dict)
    outcomes: dict[uuid.UUID, MatchOutcome] = field(default_factory=dict)
    _horizon: int = 0
    _feed: uuid.UUID = field(default_factory=uuid.uuid4)

    # --- profiles ---------------------------------------------------------------------------

    async def upsert_mentee(
        self, profile: MenteeProfile, credential: str | None = None
    ) -> Mentee | None:
        known = self.mentees.get(profile.profile_id)
        if profile.profile_id in self.erased or (known and known.version >= profile.version):
            return None
        self.mentees[profile.profile_id] = profile
        self.credentials[profile.profile_id] = credential or self.credentials.get(
            profile.profile_id
        )
        return _mentee(profile)

    async def upsert_mentor(self, profile: MentorProfile, credential: str | None = None) -> bool:
        known = self.mentors.get(profile.profile_id)
        if profile.profile_id in self.erased or (
            known and known.profile.version >= profile.version
        ):
            return False
        load = known.load if known else 0
        self.mentors[profile.profile_id] = StoredMentor(
            profile=profile,
            capacity=max(profile.capacity, load),
            requested_capacity=profile.capacity,
            load=load,
        )
        self.credentials[profile.profile_id] = credential or self.credentials.get(
            profile.profile_id
        )
        return True

    async def erase(self, profile_id: uuid.UUID) -> None:
        self.mentees.pop(profile_id, None)
        self.mentors.pop(profile_id, None)
        self.shown = {pair: at for pair, at in self.shown.items() if profile_id not in pair}
        for match in list(self.matches.values()):
            if profile_id in (match.mentee_id, match.mentor_id):
                self.matches[match.id] = dataclasses.replace(match, decline_reason=None)
        self.plans.pop(profile_id, None)
        self.erased.add(profile_id)

    async def lock_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        return await self.get_mentee(mentee_id)

    async def get_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        profile = self.mentees.get(mentee_id)
        return _mentee(profile) if profile is not None else None

    async def get_mentees(
        self, mentee_ids: Sequence[uuid.UUID], *, waiting_only: bool = False
    ) -> list[Mentee]:
        return [
            _mentee(self.mentees[i])
            for i in mentee_ids
            if i in self.mentees and not (waiting_only and self._open(i))
        ]

    async def lock_waiting_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        if self._open(mentee_id) is not None:
            return None
        return await self.get_mentee(mentee_id)

    async def lock_waiting_mentees(
        self, languages: Sequence[str] | None, limit: int
    ) -> list[uuid.UUID]:
        waiting = [
            mentee_id
            for mentee_id, profile in self.mentees.items()  # registration order
            if self._open(mentee_id) is None
            and (languages is None or set(languages) & set(profile.languages))
        ]
        return waiting[:limit]

    async def lock_mentor(self, mentor_id: uuid.UUID) -> MentorLoad | None:
        stored = self.mentors.get(mentor_id)
        if stored is None:
            return None
        return MentorLoad(
            id=mentor_id,
            capacity=stored.capacity,
            requested_capacity=stored.requested_capacity,
            load=stored.load,
            accepting_mentees=stored.profile.accepting_mentees,
        )

    async def mentor_languages(self, mentor_id: uuid.UUID) -> list[str] | None:
        stored = self.mentors.get(mentor_id)
        return list(stored.profile.languages) if stored is not None else None

    # --- matches and slots ------------------------------------------------------------------

    async def open_match(self, mentee_id: uuid.UUID) -> Match | None:
        return self._open(mentee_id)

    async def open_matches_of(self, profile_id: uuid.UUID) -> list[Match]:
        mine = [
            m
            for m in self.matches.values()
            if m.is_open and profile_id in (m.mentee_id, m.mentor_id)
        ]
        return sorted(mine, key=lambda m: (-m.proposed_at.timestamp(), m.id))

    async def get_match(self, match_id: uuid.UUID) -> Match | None:
        return self.matches.get(match_id)

    async def lock_match(self, match_id: uuid.UUID) -> Match | None:
        return self.matches.get(match_id)

    async def closed_pairs(
        self, mentee_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[uuid.UUID]]:
        pairs: dict[uuid.UUID, set[uuid.UUID]] = {mentee_id: set() for mentee_id in mentee_ids}
        for match in self.matches.values():
            if match.mentee_id in pairs and match.closes_pair:
                pairs[match.mentee_id].add(match.mentor_id)
        return pairs

    async def reserve_slot(self, mentor_id: uuid.UUID) -> bool:
        stored = self.mentors.get(mentor_id)
        if stored is None or not stored.profile.accepting_mentees:
            return False
        if stored.load >= stored.capacity:
            return False
        stored.load += 1
        return True

    async def release_slot(self, mentor_id: uuid.UUID) -> None:
        stored = self.mentors.get(mentor_id)
        if stored is not None and stored.load > 0:
            stored.load -= 1
            stored.capacity = max(stored.requested_capacity, stored.load)

    async def add_match(self, match: Match) -> None:
        assert match.mentee_id != match.mentor_id
        assert self._open(match.mentee_id) is None, "a second open match for one mentee"
        self.matches[match.id] = match

    async def save_match(self, match: Match, *, was: MatchStatus) -> None:
        stored = self.matches[match.id]
        if stored.status is not was:
            raise LookupError(f"match {match.id} is no longer {was}")
        self.matches[match.id] = match

    # --- shortlists and rounds --------------------------------------------------------------

    async def exposure(
        self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID], since: datetime
    ) -> dict[uuid.UUID, tuple[int, bool]]:
        seen: dict[uuid.UUID, tuple[int, bool]] = {}
        for (mentee, mentor), at in self.shown.items():
            if mentor in mentor_ids and at >= since:
                others, mine = seen.get(mentor, (0, False))
                seen[mentor] = (others + (mentee != mentee_id), mine or mentee == mentee_id)
        return seen

    async def record_exposure(self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID]) -> None:
        for mentor_id in mentor_ids:
            self.shown[(mentee_id, mentor_id)] = datetime.now(UTC)

    async def add_round(self, report: RoundRecord) -> None:
        self.rounds.append(report)

    # --- learning plans and outcomes -------------------------------------------------------

    async def record_learning_plan(
        self, mentee_id: uuid.UUID, digest: str, resources_version: int
    ) -> int | None:
        issued = self.plans.setdefault(mentee_id, [])
        if issued and issued[-1][0] == digest:
            return None
        issued.append((digest, resources_version))
        return len(issued)

    async def latest_learning_plan(self, mentee_id: uuid.UUID) -> IssuedPlan | None:
        issued = self.plans.get(mentee_id)
        if not issued:
            return None
        return IssuedPlan(
            version=len(issued), resources_version=issued[-1][1], issued_at=datetime.now(UTC)
        )

    async def add_outcome(self, outcome: MatchOutcome) -> bool:
        if outcome.match_id in self.outcomes:
            return False
        self.outcomes[outcome.match_id] = outcome
        return True

    # --- the mentor directory's reads -------------------------------------------------------

    async def mentors_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mentor]:
        known = [i for i in ids if i in self.mentors]
        return {
            i: _mentor(self.mentors[i].profile, int(free))
            for i, free in zip(known, self._free_slots(known), strict=True)
        }

    async def mentor_changes(
        self,
        since: int,
        also: Sequence[uuid.UUID] = (),
        closed_for: uuid.UUID | None = None,
    ) -> MentorChanges:
        """Every mentor and every erasure, whatever `since`: more than what changed, which a
        reader must accept (it only re-reads rows it has)."""
        self._horizon += 1
        ids = sorted(self.mentors)
        mentors = [
            _mentor(self.mentors[i].profile, int(free))
            for i, free in zip(ids, self._free_slots(ids), strict=True)
        ]
        return MentorChanges(
            feed=self._feed,
            horizon=self._horizon,
            mentors=mentors,
            versions=[self.mentors[i].profile.version for i in ids],
            changed_in=[self._horizon - 1] * len(ids),
            erased=sorted(self.erased),
            erased_in=[self._horizon - 1] * len(self.erased),
            closed=(
                sorted((await self.closed_pairs([closed_for]))[closed_for])
                if closed_for is not None
                else []
            ),
        )

    # --- helpers ----------------------------------------------------------------------------

    def _open(self, mentee_id: uuid.UUID) -> Match | None:
        return next(
            (m for m in self.matches.values() if m.mentee_id == mentee_id and m.is_open), None
        )

    def _free_slots(self, ids: Sequence[uuid.UUID]) -> IntArray:
        stored = [self.mentors[i] for i in ids]
        return free_slots(
            np.array([s.capacity for s in stored], dtype=np.intp),
            np.array([s.load for s in stored], dtype=np.intp),
            np.array([s.profile.accepting_mentees for s in stored], dtype=np.bool_),
        )

    def load(self, mentor_id: uuid.UUID) -> int:
        return self.mentors[mentor_id].load


def _mentee(profile: MenteeProfile) -> Mentee:
    return Mentee(
        id=profile.profile_id,
        languages=frozenset(profile.languages),
        current=skill_vector({s.skill: s.current for s in profile.skills}),
        target=skill_vector({s.skill: s.target for s in profile.skills}),
        target_role=profile.target_role,
        industries=frozenset(profile.industries),
        utc_offset_hours=utc_offset_hours(profile.timezone),
        max_timezone_difference_hours=profile.max_timezone_difference_hours,
    )


def _mentor(profile: MentorProfile, free: int) -> Mentor:
    return Mentor(
        id=profile.profile_id,
        languages=frozenset(profile.languages),
        strengths=skill_vector({s.skill: s.level for s in profile.skills}),
        was_engineer=profile.was_engineer,
        industries=frozenset(profile.industries),
        utc_offset_hours=utc_offset_hours(profile.timezone),
        free_slots=free,
    )

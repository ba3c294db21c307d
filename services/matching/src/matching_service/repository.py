"""The matcher's tables: read model of profiles, matches and the capacity they hold."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.plumbing.database import Connection

from .domain import Mentee, Mentor, Proposal, skill_vector

OPEN_STATUSES = ("proposed", "accepted")


@dataclass(frozen=True)
class MatchRecord:
    id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    status: str
    score: float
    score_breakdown: dict[str, float]
    explanation: str
    covered_skills: list[str]
    uncovered_skills: list[str]
    algorithm_version: str
    proposed_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True)
class MentorLoad:
    id: uuid.UUID
    capacity: int
    load: int
    accepting_mentees: bool


@dataclass(frozen=True)
class EndedMatch:
    id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID


class MatchingRepository:
    """All reads and writes of the matcher on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- read model ---------------------------------------------------------------------

    async def is_erased(self, profile_id: uuid.UUID) -> bool:
        return bool(
            await self._conn.fetchval("SELECT true FROM erased_profiles WHERE id = $1", profile_id)
        )

    async def upsert_mentee(self, profile: MenteeProfile) -> bool:
        """Store the mentee if this version is newer than ours; False if stale or erased."""
        if await self.is_erased(profile.profile_id):
            return False
        row = await self._conn.fetchval(
            """
            INSERT INTO mentees (id, version, timezone, languages, skills, target_role, industries,
                                 max_timezone_difference_hours)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (id) DO UPDATE SET
                version = EXCLUDED.version, timezone = EXCLUDED.timezone,
                languages = EXCLUDED.languages, skills = EXCLUDED.skills,
                target_role = EXCLUDED.target_role, industries = EXCLUDED.industries,
                max_timezone_difference_hours = EXCLUDED.max_timezone_difference_hours,
                updated_at = now()
            WHERE mentees.version < EXCLUDED.version
            RETURNING true
            """,
            profile.profile_id,
            profile.version,
            profile.timezone,
            profile.languages,
            [item.model_dump() for item in profile.skills],
            profile.target_role,
            profile.industries,
            profile.max_timezone_difference_hours,
        )
        return bool(row)

    async def upsert_mentor(self, profile: MentorProfile) -> bool:
        """Store the mentor if this version is newer than ours; False if stale or erased.

        A capacity lowered below the mentor's open matches keeps those matches: the stored
        capacity does not go below the load, so no new slot opens until the load falls.
        """
        if await self.is_erased(profile.profile_id):
            return False
        row = await self._conn.fetchval(
            """
            INSERT INTO mentors (id, version, timezone, languages, skills, industries,
                                 was_engineer, accepting_mentees, capacity)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (id) DO UPDATE SET
                version = EXCLUDED.version, timezone = EXCLUDED.timezone,
                languages = EXCLUDED.languages, skills = EXCLUDED.skills,
                industries = EXCLUDED.industries, was_engineer = EXCLUDED.was_engineer,
                accepting_mentees = EXCLUDED.accepting_mentees,
                capacity = GREATEST(EXCLUDED.capacity, mentors.load),
                updated_at = now()
            WHERE mentors.version < EXCLUDED.version
            RETURNING true
            """,
            profile.profile_id,
            profile.version,
            profile.timezone,
            profile.languages,
            [item.model_dump() for item in profile.skills],
            profile.industries,
            profile.was_engineer,
            profile.accepting_mentees,
            profile.capacity,
        )
        return bool(row)

    async def erase(self, profile_id: uuid.UUID) -> None:
        """Forget a profile and remember that it was erased."""
        await self._conn.execute("DELETE FROM mentees WHERE id = $1", profile_id)
        await self._conn.execute("DELETE FROM mentors WHERE id = $1", profile_id)
        await self._conn.execute(
            "INSERT INTO erased_profiles (id) VALUES ($1) ON CONFLICT DO NOTHING", profile_id
        )

    # --- matching -----------------------------------------------------------------------

    async def lock_waiting_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        """Lock the mentee's row; the mentee if it exists and has no open match."""
        row = await self._conn.fetchrow(
            "SELECT id, languages, skills FROM mentees WHERE id = $1 FOR UPDATE", mentee_id
        )
        if row is None:
            return None
        # A fresh statement after taking the lock sees any match committed by whoever held it.
        if await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM matches WHERE mentee_id = $1 AND status = ANY($2))",
            mentee_id,
            list(OPEN_STATUSES),
        ):
            return None
        return _mentee(row)

    async def lock_waiting_mentees(self, languages: Sequence[str], limit: int) -> list[uuid.UUID]:
        """Waiting mentees who speak one of `languages`, oldest first, locked.

        Rows another transaction holds are skipped: that transaction is matching them already.
        """
        rows = await self._conn.fetch(
            """
            SELECT id FROM mentees m
            WHERE m.languages && $1::text[]
              AND NOT EXISTS (SELECT 1 FROM matches x
                              WHERE x.mentee_id = m.id AND x.status = ANY($2))
            ORDER BY m.registered_at, m.id
            LIMIT $3
            FOR UPDATE SKIP LOCKED
            """,
            list(languages),
            list(OPEN_STATUSES),
            limit,
        )
        return [row["id"] for row in rows]

    async def candidate_mentors(self, mentee: Mentee) -> list[Mentor]:
        """Mentors with a free slot, accepting mentees, sharing a language, never declined by
        this mentee. Reading them takes no lock: `reserve_slot` re-checks under the row lock."""
        rows = await self._conn.fetch(
            """
            SELECT m.id, m.languages, m.skills, m.was_engineer FROM mentors m
            WHERE m.accepting_mentees AND m.load < m.capacity
              AND m.languages && $1::text[] AND m.id <> $2
              AND NOT EXISTS (SELECT 1 FROM matches x
                              WHERE x.mentee_id = $2 AND x.mentor_id = m.id
                                AND x.status = 'declined')
            ORDER BY m.id  -- a stable order, so equal scores always break the same way
            """,
            sorted(mentee.languages),
            mentee.id,
        )
        return [_mentor(row) for row in rows]

    async def reserve_slot(self, mentor_id: uuid.UUID) -> bool:
        """Take one of the mentor's slots if one is free (atomic under the mentor's row lock)."""
        return bool(
            await self._conn.fetchval(
                "UPDATE mentors SET load = load + 1, updated_at = now() "
                "WHERE id = $1 AND accepting_mentees AND load < capacity RETURNING true",
                mentor_id,
            )
        )

    async def add_match(
        self,
        match_id: uuid.UUID,
        mentee_id: uuid.UUID,
        proposal: Proposal,
        expires_at: datetime,
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown,
                                 explanation, covered_skills, uncovered_skills,
                                 algorithm_version, expires_at)
            VALUES ($1, $2, $3, 'proposed', $4, $5, $6, $7, $8, $9, $10)
            """,
            match_id,
            mentee_id,
            proposal.mentor_id,
            proposal.score,
            proposal.breakdown,
            proposal.explanation,
            proposal.covered_skills,
            proposal.uncovered_skills,
            proposal.algorithm_version,
            expires_at,
        )

    async def end_open_matches(self, profile_id: uuid.UUID, reason: str) -> list[EndedMatch]:
        """End every open match the profile is in and give the mentors their slots back."""
        rows = await self._conn.fetch(
            """
            UPDATE matches SET status = 'expired', end_reason = $2, ended_at = now()
            WHERE (mentee_id = $1 OR mentor_id = $1) AND status = ANY($3)
            RETURNING id, mentee_id, mentor_id
            """,
            profile_id,
            reason,
            list(OPEN_STATUSES),
        )
        ended = [EndedMatch(row["id"], row["mentee_id"], row["mentor_id"]) for row in rows]
        for match in ended:
            await self._conn.execute(
                "UPDATE mentors SET load = load - 1, updated_at = now() WHERE id = $1 AND load > 0",
                match.mentor_id,
            )
        return ended

    async def mentor_load(self, mentor_id: uuid.UUID) -> MentorLoad | None:
        row = await self._conn.fetchrow(
            "SELECT id, capacity, load, accepting_mentees FROM mentors WHERE id = $1", mentor_id
        )
        return MentorLoad(**dict(row)) if row is not None else None

    async def mentee_exists(self, mentee_id: uuid.UUID) -> bool:
        return bool(await self._conn.fetchval("SELECT true FROM mentees WHERE id = $1", mentee_id))

    async def matches_for_mentee(self, mentee_id: uuid.UUID, limit: int = 50) -> list[MatchRecord]:
        rows = await self._conn.fetch(
            """
            SELECT id, mentee_id, mentor_id, status, score, score_breakdown, explanation,
                   covered_skills, uncovered_skills, algorithm_version, proposed_at,
                   expires_at, ended_at, end_reason
            FROM matches WHERE mentee_id = $1 ORDER BY proposed_at DESC, id LIMIT $2
            """,
            mentee_id,
            limit,
        )
        return [MatchRecord(**dict(row)) for row in rows]


def _levels(skills: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {item["skill"]: int(item[key]) for item in skills}


def _mentee(row: Any) -> Mentee:
    return Mentee(
        id=row["id"],
        languages=frozenset(row["languages"]),
        current=skill_vector(_levels(row["skills"], "current")),
        target=skill_vector(_levels(row["skills"], "target")),
    )


def _mentor(row: Any) -> Mentor:
    return Mentor(
        id=row["id"],
        languages=frozenset(row["languages"]),
        strengths=skill_vector(_levels(row["skills"], "level")),
        was_engineer=row["was_engineer"],
    )

"""The matcher's tables: read model of profiles, matches and the capacity they hold."""

# ruff: noqa: S608 -- queries are assembled only from the column lists below (constants);
# every value travels as a bind parameter.

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mentorship_shared.contracts.events import (
    MatchOrigin,
    MatchParty,
    MenteeProfile,
    MentorProfile,
)
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import forget_published

from .domain import Mentee, Mentor, MentorPool, Proposal, skill_vector, utc_offset_hours
from .scoring import ScoringConfig

if TYPE_CHECKING:
    from .directory import MentorDirectory

OPEN_STATUSES = ("proposed", "accepted")
MatchStatus = Literal["proposed", "accepted", "declined", "expired"]


@dataclass(frozen=True)
class MatchRecord:
    id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    status: MatchStatus
    score: float
    score_breakdown: dict[str, float]
    explanation: str
    covered_skills: list[str]
    uncovered_skills: list[str]
    algorithm_version: str
    weights_version: str | None
    origin: MatchOrigin
    round_id: uuid.UUID | None
    proposed_at: datetime
    expires_at: datetime | None
    mentee_accepted_at: datetime | None
    mentor_accepted_at: datetime | None
    accepted_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    declined_by: str | None
    decline_reason: str | None

    def accepted_by(self) -> list[MatchParty]:
        sides: list[MatchParty] = []
        if self.mentee_accepted_at is not None:
            sides.append("mentee")
        if self.mentor_accepted_at is not None:
            sides.append("mentor")
        return sides


@dataclass(frozen=True)
class MentorLoad:
    id: uuid.UUID
    capacity: int
    requested_capacity: int
    load: int
    accepting_mentees: bool


@dataclass(frozen=True)
class RoundRecord:
    id: uuid.UUID
    started_at: datetime
    finished_at: datetime | None
    method: str
    mentees_waiting: int
    mentors_with_slots: int
    proposed: int
    total_score: float
    greedy_matched: int
    greedy_total_score: float
    mentor_load: dict[str, Any]


class MatchingRepository:
    """All reads and writes of the matcher on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- read model ---------------------------------------------------------------------

    async def upsert_mentee(
        self, profile: MenteeProfile, credential: str | None = None
    ) -> Mentee | None:
        """Store the mentee if this version is newer than ours and return them, their row
        locked as by `lock_mentee` (written rows stay locked until the transaction ends);
        None if the version is stale or the person was erased. One statement for all three."""
        row = await self._conn.fetchrow(
            f"""
            INSERT INTO mentees (id, version, timezone, languages, skills, target_role, industries,
                                 max_timezone_difference_hours, credential)
            SELECT $1::uuid, $2::integer, $3::text, $4::text[], $5::jsonb, $6::text,
                   $7::text[], $8::integer, $9::text
            WHERE NOT EXISTS (SELECT 1 FROM erased_profiles WHERE id = $1::uuid)
            ON CONFLICT (id) DO UPDATE SET
                version = EXCLUDED.version, timezone = EXCLUDED.timezone,
                languages = EXCLUDED.languages, skills = EXCLUDED.skills,
                target_role = EXCLUDED.target_role, industries = EXCLUDED.industries,
                max_timezone_difference_hours = EXCLUDED.max_timezone_difference_hours,
                credential = COALESCE(EXCLUDED.credential, mentees.credential),
                updated_at = now()
            WHERE mentees.version < EXCLUDED.version
            RETURNING {_MENTEE_COLUMNS}
            """,
            profile.profile_id,
            profile.version,
            profile.timezone,
            profile.languages,
            [item.model_dump() for item in profile.skills],
            profile.target_role,
            profile.industries,
            profile.max_timezone_difference_hours,
            credential,
        )
        return _mentee(row) if row is not None else None

    async def upsert_mentor(self, profile: MentorProfile, credential: str | None = None) -> bool:
        """Store the mentor if this version is newer than ours; False if stale or erased.

        The mentor's wish is kept as `requested_capacity`. The ceiling the CHECK guards,
        `capacity`, never goes below the slots already taken; the use case withdraws pending
        proposals beyond the wish, and the ceiling comes down as accepted matches end.
        """
        row = await self._conn.fetchval(
            """
            INSERT INTO mentors (id, version, timezone, languages, skills, industries,
                                 was_engineer, accepting_mentees, capacity, requested_capacity,
                                 credential)
            SELECT $1::uuid, $2::integer, $3::text, $4::text[], $5::jsonb, $6::text[],
                   $7::boolean, $8::boolean, $9::integer, $9::integer, $10::text
            WHERE NOT EXISTS (SELECT 1 FROM erased_profiles WHERE id = $1::uuid)
            ON CONFLICT (id) DO UPDATE SET
                version = EXCLUDED.version, timezone = EXCLUDED.timezone,
                languages = EXCLUDED.languages, skills = EXCLUDED.skills,
                industries = EXCLUDED.industries, was_engineer = EXCLUDED.was_engineer,
                accepting_mentees = EXCLUDED.accepting_mentees,
                capacity = GREATEST(EXCLUDED.capacity, mentors.load),
                requested_capacity = EXCLUDED.capacity,
                credential = COALESCE(EXCLUDED.credential, mentors.credential),
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
            credential,
        )
        return bool(row)

    async def erase(self, profile_id: uuid.UUID) -> None:
        """Forget a profile and remember that it was erased. Its matches keep only ids and
        scores: the free-text decline reasons go, and so do the published match events (and
        dead letters) about them, which can carry such a reason."""
        await self._conn.execute("DELETE FROM mentees WHERE id = $1", profile_id)
        await self._conn.execute("DELETE FROM mentors WHERE id = $1", profile_id)
        await self._conn.execute(
            "DELETE FROM shortlist_exposure WHERE $1 IN (mentee_id, mentor_id)", profile_id
        )
        match_ids = await self._conn.fetch(
            "UPDATE matches SET decline_reason = NULL WHERE $1 IN (mentee_id, mentor_id) "
            "RETURNING id",
            profile_id,
        )
        await forget_published(
            self._conn, [str(profile_id), *(str(row["id"]) for row in match_ids)]
        )
        await self._conn.execute(
            "INSERT INTO erased_profiles (id) VALUES ($1) ON CONFLICT DO NOTHING", profile_id
        )

    # --- matching -----------------------------------------------------------------------

    async def lock_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        """The mentee, with their row locked: one matcher at a time decides for a mentee."""
        row = await self._conn.fetchrow(
            f"SELECT {_MENTEE_COLUMNS} FROM mentees WHERE id = $1 FOR UPDATE", mentee_id
        )
        return _mentee(row) if row is not None else None

    async def get_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        row = await self._conn.fetchrow(
            f"SELECT {_MENTEE_COLUMNS} FROM mentees WHERE id = $1", mentee_id
        )
        return _mentee(row) if row is not None else None

    async def get_mentees(
        self, mentee_ids: Sequence[uuid.UUID], *, waiting_only: bool = False
    ) -> list[Mentee]:
        """The mentees with these ids, in the order given (unknown ids left out); with
        `waiting_only`, only those without an open match. Run after locking the rows, this
        fresh statement sees matches committed by whoever held them before."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_MENTEE_COLUMNS} FROM mentees m
            WHERE id = ANY($1)
              AND (NOT $2 OR NOT EXISTS (SELECT 1 FROM matches x
                                         WHERE x.mentee_id = m.id AND x.status = ANY($3)))
            """,
            list(mentee_ids),
            waiting_only,
            list(OPEN_STATUSES),
        )
        by_id = {row["id"]: _mentee(row) for row in rows}
        return [by_id[i] for i in mentee_ids if i in by_id]

    async def open_match(self, mentee_id: uuid.UUID) -> MatchRecord | None:
        """The mentee's proposed or accepted match (at most one: a unique index says so)."""
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE mentee_id = $1 AND status = ANY($2)",
            mentee_id,
            list(OPEN_STATUSES),
        )
        return _match(row) if row is not None else None

    async def lock_waiting_mentee(self, mentee_id: uuid.UUID) -> Mentee | None:
        """Lock the mentee's row; the mentee if it exists and has no open match."""
        mentee = await self.lock_mentee(mentee_id)
        # A fresh statement after taking the lock sees any match committed by whoever held it.
        if mentee is None or await self.open_match(mentee_id) is not None:
            return None
        return mentee

    async def lock_waiting_mentees(
        self, languages: Sequence[str] | None, limit: int
    ) -> list[uuid.UUID]:
        """Waiting mentees (speaking one of `languages`, if given), oldest first, locked.

        Rows another transaction holds are skipped: that transaction is matching them already.
        """
        rows = await self._conn.fetch(
            """
            SELECT id FROM mentees m
            WHERE ($1::text[] IS NULL OR m.languages && $1::text[])
              AND NOT EXISTS (SELECT 1 FROM matches x
                              WHERE x.mentee_id = m.id AND x.status = ANY($2))
            ORDER BY m.registered_at, m.id
            LIMIT $3
            FOR UPDATE SKIP LOCKED
            """,
            list(languages) if languages is not None else None,
            list(OPEN_STATUSES),
            limit,
        )
        return [row["id"] for row in rows]

    async def closed_pairs(
        self, mentee_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[uuid.UUID]]:
        """Per mentee, the mentors never to propose again: declined, or left to lapse."""
        rows = await self._conn.fetch(
            """
            SELECT mentee_id, mentor_id FROM matches
            WHERE mentee_id = ANY($1) AND (status = 'declined' OR end_reason = 'timeout')
            """,
            list(mentee_ids),
        )
        pairs: dict[uuid.UUID, set[uuid.UUID]] = {mentee_id: set() for mentee_id in mentee_ids}
        for row in rows:
            pairs[row["mentee_id"]].add(row["mentor_id"])
        return pairs

    async def available_mentors(
        self, languages: Sequence[str] | None = None, include: Sequence[uuid.UUID] = ()
    ) -> list[Mentor]:
        """Mentors accepting mentees with a free slot (sharing one of `languages`, if given),
        plus any in `include` whatever their slots. Read without locks: `reserve_slot`
        re-checks under the mentor's row lock."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_MENTOR_COLUMNS} FROM mentors m
            WHERE (m.accepting_mentees AND m.load < m.capacity
                   AND ($1::text[] IS NULL OR m.languages && $1::text[]))
               OR m.id = ANY($2)
            ORDER BY m.id  -- a stable order, so equal scores always break the same way
            """,
            list(languages) if languages is not None else None,
            list(include),
        )
        return [_mentor(row) for row in rows]

    async def mentor_pool(
        self,
        config: ScoringConfig,
        languages: Sequence[str] | None = None,
        directory: MentorDirectory | None = None,
    ) -> MentorPool:
        """Mentors with a free slot (sharing one of `languages`, if given) as a scoring pool:
        from the process's mentor directory when there is one, else built from the rows."""
        if directory is not None:
            return await directory.available(self._conn, languages)
        return MentorPool(await self.available_mentors(languages), config)

    async def reserve_slot(self, mentor_id: uuid.UUID) -> bool:
        """Take one of the mentor's slots if one is free (atomic under the mentor's row lock)."""
        return bool(
            await self._conn.fetchval(
                "UPDATE mentors SET load = load + 1, updated_at = now() "
                "WHERE id = $1 AND accepting_mentees AND load < capacity RETURNING true",
                mentor_id,
            )
        )

    async def release_slot(self, mentor_id: uuid.UUID) -> None:
        """Give a slot back; a ceiling kept above the mentor's wish comes down with it."""
        await self._conn.execute(
            """
            UPDATE mentors SET load = load - 1,
                               capacity = GREATEST(requested_capacity, load - 1),
                               updated_at = now()
            WHERE id = $1 AND load > 0
            """,
            mentor_id,
        )

    async def add_match(
        self,
        match_id: uuid.UUID,
        mentee_id: uuid.UUID,
        proposal: Proposal,
        expires_at: datetime,
        *,
        origin: str = "online",
        round_id: uuid.UUID | None = None,
        mentee_accepted: bool = False,
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown,
                                 explanation, covered_skills, uncovered_skills,
                                 algorithm_version, weights_version, expires_at, origin,
                                 round_id, mentee_accepted_at)
            VALUES ($1, $2, $3, 'proposed', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                    CASE WHEN $14 THEN now() END)
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
            proposal.weights_version,
            expires_at,
            origin,
            round_id,
            mentee_accepted,
        )

    async def lock_match(self, match_id: uuid.UUID) -> MatchRecord | None:
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1 FOR UPDATE", match_id
        )
        return _match(row) if row is not None else None

    async def get_match(self, match_id: uuid.UUID) -> MatchRecord | None:
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1", match_id
        )
        return _match(row) if row is not None else None

    async def record_acceptance(self, match_id: uuid.UUID, party: str) -> MatchRecord:
        """Note one side's yes (again is harmless); once both sides said yes the match is
        accepted."""
        column = {"mentee": "mentee_accepted_at", "mentor": "mentor_accepted_at"}[party]
        await self._conn.execute(
            f"UPDATE matches SET {column} = COALESCE({column}, now()) WHERE id = $1", match_id
        )
        await self._conn.execute(
            """
            UPDATE matches SET status = 'accepted', accepted_at = now()
            WHERE id = $1 AND status = 'proposed'
              AND mentee_accepted_at IS NOT NULL AND mentor_accepted_at IS NOT NULL
            """,
            match_id,
        )
        match = await self.get_match(match_id)
        if match is None:
            raise LookupError(f"match {match_id} does not exist")
        return match

    async def end_match(
        self,
        match_id: uuid.UUID,
        status: str,
        reason: str,
        *,
        declined_by: str | None = None,
        decline_reason: str | None = None,
    ) -> MatchRecord:
        """End an open match as 'declined' or 'expired' and give its slot back."""
        row = await self._conn.fetchrow(
            f"""
            UPDATE matches SET status = $2, end_reason = $3, ended_at = now(),
                               declined_by = $4, decline_reason = $5
            WHERE id = $1 AND status = ANY($6)
            RETURNING {_MATCH_COLUMNS}
            """,
            match_id,
            status,
            reason,
            declined_by,
            decline_reason,
            list(OPEN_STATUSES),
        )
        if row is None:
            raise LookupError(f"match {match_id} is not open")
        match = _match(row)
        await self.release_slot(match.mentor_id)
        return match

    async def open_matches_of(self, profile_id: uuid.UUID) -> list[MatchRecord]:
        """Open matches the profile is in, as mentee or mentor, locked, newest first."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_MATCH_COLUMNS} FROM matches
            WHERE (mentee_id = $1 OR mentor_id = $1) AND status = ANY($2)
            ORDER BY proposed_at DESC, id
            FOR UPDATE
            """,
            profile_id,
            list(OPEN_STATUSES),
        )
        return [_match(row) for row in rows]

    async def due_proposals(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Ids of proposals whose answer time has passed, oldest deadline first."""
        rows = await self._conn.fetch(
            """
            SELECT id FROM matches WHERE status = 'proposed' AND expires_at <= $1
            ORDER BY expires_at, id LIMIT $2
            """,
            now,
            limit,
        )
        return [row["id"] for row in rows]

    async def lock_mentor(self, mentor_id: uuid.UUID) -> MentorLoad | None:
        row = await self._conn.fetchrow(
            "SELECT id, capacity, requested_capacity, load, accepting_mentees FROM mentors "
            "WHERE id = $1 FOR UPDATE",
            mentor_id,
        )
        return MentorLoad(**dict(row)) if row is not None else None

    async def mentor_load(self, mentor_id: uuid.UUID) -> MentorLoad | None:
        row = await self._conn.fetchrow(
            "SELECT id, capacity, requested_capacity, load, accepting_mentees FROM mentors "
            "WHERE id = $1",
            mentor_id,
        )
        return MentorLoad(**dict(row)) if row is not None else None

    async def credential(self, profile_id: uuid.UUID) -> str | None:
        """The owner credential of a mentee or mentor, if the matcher knows the profile."""
        value: str | None = await self._conn.fetchval(
            """
            SELECT credential FROM mentees WHERE id = $1
            UNION ALL SELECT credential FROM mentors WHERE id = $1
            LIMIT 1
            """,
            profile_id,
        )
        return value

    async def mentor_languages(self, mentor_id: uuid.UUID) -> list[str] | None:
        languages = await self._conn.fetchval(
            "SELECT languages FROM mentors WHERE id = $1", mentor_id
        )
        return list(languages) if languages is not None else None

    async def mentee_exists(self, mentee_id: uuid.UUID) -> bool:
        return bool(await self._conn.fetchval("SELECT true FROM mentees WHERE id = $1", mentee_id))

    async def matches_for_mentee(self, mentee_id: uuid.UUID, limit: int = 50) -> list[MatchRecord]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_MATCH_COLUMNS} FROM matches WHERE mentee_id = $1
            ORDER BY proposed_at DESC, id LIMIT $2
            """,
            mentee_id,
            limit,
        )
        return [_match(row) for row in rows]

    async def count_matches_by_status(self) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT status, count(*) AS matches FROM matches GROUP BY status"
        )
        return {row["status"]: row["matches"] for row in rows}

    # --- shortlists -----------------------------------------------------------------------

    async def exposure(
        self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID], since: datetime
    ) -> dict[uuid.UUID, tuple[int, bool]]:
        """Per mentor: on how many other mentees' shortlists since `since`, and whether this
        mentee already saw them in that time."""
        rows = await self._conn.fetch(
            """
            SELECT mentor_id,
                   count(*) FILTER (WHERE mentee_id <> $1) AS others,
                   bool_or(mentee_id = $1) AS seen
            FROM shortlist_exposure
            WHERE mentor_id = ANY($2) AND shown_at >= $3
            GROUP BY mentor_id
            """,
            mentee_id,
            list(mentor_ids),
            since,
        )
        return {row["mentor_id"]: (int(row["others"]), bool(row["seen"])) for row in rows}

    async def record_exposure(self, mentee_id: uuid.UUID, mentor_ids: Sequence[uuid.UUID]) -> None:
        await self._conn.executemany(
            """
            INSERT INTO shortlist_exposure (mentee_id, mentor_id) VALUES ($1, $2)
            ON CONFLICT (mentee_id, mentor_id) DO UPDATE SET shown_at = now()
            """,
            [(mentee_id, mentor_id) for mentor_id in mentor_ids],
        )

    # --- rounds ---------------------------------------------------------------------------

    async def add_round(self, report: RoundRecord) -> None:
        await self._conn.execute(
            """
            INSERT INTO rounds (id, started_at, finished_at, method, mentees_waiting,
                                mentors_with_slots, proposed, total_score, greedy_matched,
                                greedy_total_score, mentor_load)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            report.id,
            report.started_at,
            report.finished_at,
            report.method,
            report.mentees_waiting,
            report.mentors_with_slots,
            report.proposed,
            report.total_score,
            report.greedy_matched,
            report.greedy_total_score,
            report.mentor_load,
        )

    async def get_round(self, round_id: uuid.UUID) -> RoundRecord | None:
        row = await self._conn.fetchrow(
            """
            SELECT id, started_at, finished_at, method, mentees_waiting, mentors_with_slots,
                   proposed, total_score, greedy_matched, greedy_total_score, mentor_load
            FROM rounds WHERE id = $1
            """,
            round_id,
        )
        return RoundRecord(**dict(row)) if row is not None else None


_MENTEE_COLUMNS = (
    "id, languages, skills, target_role, industries, timezone, max_timezone_difference_hours"
)
_MENTOR_COLUMNS = (
    "id, languages, skills, was_engineer, industries, timezone, "
    "CASE WHEN accepting_mentees THEN GREATEST(capacity - load, 0) ELSE 0 END AS free_slots"
)
_MATCH_COLUMNS = """
    id, mentee_id, mentor_id, status, score, score_breakdown, explanation, covered_skills,
    uncovered_skills, algorithm_version, weights_version, origin, round_id, proposed_at,
    expires_at, mentee_accepted_at, mentor_accepted_at, accepted_at, ended_at, end_reason,
    declined_by, decline_reason
"""


async def mentors_by_id(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mentor]:
    """These mentors (those that still exist), whatever their slots."""
    if not ids:
        return {}
    rows = await conn.fetch(f"SELECT {_MENTOR_COLUMNS} FROM mentors m WHERE id = ANY($1)", ids)
    return {row["id"]: _mentor(row) for row in rows}


def _levels(skills: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {item["skill"]: int(item[key]) for item in skills}


def _mentee(row: Any) -> Mentee:
    return Mentee(
        id=row["id"],
        languages=frozenset(row["languages"]),
        current=skill_vector(_levels(row["skills"], "current")),
        target=skill_vector(_levels(row["skills"], "target")),
        target_role=row["target_role"],
        industries=frozenset(row["industries"]),
        utc_offset_hours=utc_offset_hours(row["timezone"]),
        max_timezone_difference_hours=row["max_timezone_difference_hours"],
    )


def _mentor(row: Any) -> Mentor:
    return Mentor(
        id=row["id"],
        languages=frozenset(row["languages"]),
        strengths=skill_vector(_levels(row["skills"], "level")),
        was_engineer=row["was_engineer"],
        industries=frozenset(row["industries"]),
        utc_offset_hours=utc_offset_hours(row["timezone"]),
        free_slots=row["free_slots"],
    )


def _match(row: Any) -> MatchRecord:
    return MatchRecord(**dict(row))

"""The matcher's tables: its copy of profiles, matches and the capacity they hold, shortlist
exposure and rounds, learning plans, and the outcomes of finished mentorships. Every SQL
statement of the service is here."""

# ruff: noqa: S608 -- queries are assembled only from the column lists and the lifecycle's
# status names below (constants); every value travels as a bind parameter.

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import forget_published

from .match import (
    OPEN_STATUSES,
    PAIR_CLOSING_REASONS,
    PAIR_CLOSING_STATUSES,
    Match,
    MatchStatus,
)
from .matcher.pool import Mentee, Mentor, free_slots, skill_vector, utc_offset_hours
from .matcher.scoring import IntArray
from .outcome import MatchOutcome


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# The lifecycle's statuses as SQL text, spelled as the partial indexes spell them so that the
# planner uses those indexes.
_OPEN = _quoted(OPEN_STATUSES)
_PROPOSED = _quoted([MatchStatus.PROPOSED])
_CLOSES_PAIR = (
    f"(status IN ({_quoted(PAIR_CLOSING_STATUSES)}) "
    f"OR end_reason IN ({_quoted(PAIR_CLOSING_REASONS)}))"
)
# A slot is free to take: the guard `reserve_slot` re-checks under the mentor's row lock.
_HAS_FREE_SLOT = "accepting_mentees AND load < capacity"


@dataclass(frozen=True)
class MentorLoad:
    id: uuid.UUID
    capacity: int
    requested_capacity: int
    load: int
    accepting_mentees: bool

    @property
    def free_slots(self) -> int:
        free = free_slots(
            np.array([self.capacity]), np.array([self.load]), np.array([self.accepting_mentees])
        )
        return int(free[0])


@dataclass(frozen=True)
class IssuedPlan:
    """The latest learning plan mailed to a mentee."""

    version: int
    resources_version: int
    issued_at: datetime


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


@dataclass(frozen=True, eq=False)
class MentorChanges:
    """What changed in the mentors table since a horizon (`MatchingRepository.mentor_changes`),
    read in one snapshot: the mentors whose rows changed (with their profile version, the
    transaction that last changed them, and their free slots) and those erased; and the
    horizon to read from next time, valid for this `feed` (this database) only."""

    feed: uuid.UUID
    horizon: int
    mentors: list[Mentor]
    versions: list[int]
    changed_in: list[int]
    erased: list[uuid.UUID]
    erased_in: list[int]
    #: The mentors never to propose again to the mentee asked about (`closed_for`), if any.
    closed: list[uuid.UUID] = field(default_factory=list)


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
        await self._conn.execute("DELETE FROM learning_plans WHERE mentee_id = $1", profile_id)
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
                                         WHERE x.mentee_id = m.id AND x.status IN ({_OPEN})))
            """,
            list(mentee_ids),
            waiting_only,
        )
        by_id = {row["id"]: _mentee(row) for row in rows}
        return [by_id[i] for i in mentee_ids if i in by_id]

    async def open_match(self, mentee_id: uuid.UUID) -> Match | None:
        """The mentee's proposed or accepted match (at most one: a unique index says so)."""
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE mentee_id = $1 AND status IN ({_OPEN})",
            mentee_id,
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
            f"""
            SELECT id FROM mentees m
            WHERE ($1::text[] IS NULL OR m.languages && $1::text[])
              AND NOT EXISTS (SELECT 1 FROM matches x
                              WHERE x.mentee_id = m.id AND x.status IN ({_OPEN}))
            ORDER BY m.registered_at, m.id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
            """,
            list(languages) if languages is not None else None,
            limit,
        )
        return [row["id"] for row in rows]

    async def closed_pairs(
        self, mentee_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[uuid.UUID]]:
        """Per mentee, the mentors never to propose again: declined, or left to lapse."""
        rows = await self._conn.fetch(
            f"""
            SELECT mentee_id, mentor_id FROM matches
            WHERE mentee_id = ANY($1) AND {_CLOSES_PAIR}
            """,
            list(mentee_ids),
        )
        pairs: dict[uuid.UUID, set[uuid.UUID]] = {mentee_id: set() for mentee_id in mentee_ids}
        for row in rows:
            pairs[row["mentee_id"]].add(row["mentor_id"])
        return pairs

    async def available_mentors(self, languages: Sequence[str] | None = None) -> list[Mentor]:
        """Mentors accepting mentees with a free slot (sharing one of `languages`, if given),
        read afresh: what the matcher's cached pool (`MentorDirectory`) must always equal."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_MENTOR_COLUMNS} FROM mentors m
            WHERE {_HAS_FREE_SLOT} AND ($1::text[] IS NULL OR m.languages && $1::text[])
            ORDER BY m.id  -- a stable order, so equal scores always break the same way
            """,
            list(languages) if languages is not None else None,
        )
        return _mentors(rows)

    async def mentors_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Mentor]:
        """These mentors (those that still exist), whatever their slots."""
        if not ids:
            return {}
        rows = await self._conn.fetch(
            f"SELECT {_MENTOR_COLUMNS} FROM mentors m WHERE id = ANY($1)", list(ids)
        )
        return {mentor.id: mentor for mentor in _mentors(rows)}

    async def mentor_changes(
        self,
        since: int,
        also: Sequence[uuid.UUID] = (),
        closed_for: uuid.UUID | None = None,
    ) -> MentorChanges:
        """The mentor rows changed or erased by transactions from `since` on (a horizon this
        method returned before; 0 for every mentor), plus the rows of `also` whatever their
        stamp, in one statement, hence one snapshot; with `closed_for`, that mentee's closed
        pairs too (`closed_pairs`), which spares a match a second round trip. The horizon
        returned is that snapshot's oldest running transaction: every change committed after
        this read is stamped at or above it. Reads through the `changed_in` indexes, so its
        cost follows the changes, not the size of the table."""
        # A function (migration 0008), so that its plan is made once per connection, not at
        # every match; it spells the closed pairs as `_CLOSES_PAIR` does.
        rows = await self._conn.fetch(
            "SELECT * FROM mentor_changes($1, $2, $3)", since, list(also), closed_for
        )
        mentor_rows = [row for row in rows if row["kind"] == "mentor"]
        erased = [row for row in rows if row["kind"] == "erased"]
        horizon = next(row for row in rows if row["kind"] == "horizon")
        return MentorChanges(
            feed=horizon["id"],
            horizon=int(horizon["stamp"]),
            mentors=_mentors(mentor_rows),
            versions=[int(row["version"]) for row in mentor_rows],
            changed_in=[int(row["stamp"]) for row in mentor_rows],
            erased=[row["id"] for row in erased],
            erased_in=[int(row["stamp"]) for row in erased],
            closed=[row["id"] for row in rows if row["kind"] == "closed"],
        )

    async def reserve_slot(self, mentor_id: uuid.UUID) -> bool:
        """Take one of the mentor's slots if one is free (atomic under the mentor's row lock)."""
        return bool(
            await self._conn.fetchval(
                "UPDATE mentors SET load = load + 1, updated_at = now() "
                f"WHERE id = $1 AND {_HAS_FREE_SLOT} RETURNING true",
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

    async def add_match(self, match: Match) -> None:
        """Store a new proposal (`Match.propose`); its slot is already reserved."""
        await self._conn.execute(
            """
            INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown,
                                 explanation, covered_skills, uncovered_skills,
                                 algorithm_version, weights_version, origin, round_id,
                                 proposed_at, expires_at, mentee_accepted_at, mentor_accepted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            """,
            match.id,
            match.mentee_id,
            match.mentor_id,
            match.status,
            match.score,
            match.score_breakdown,
            match.explanation,
            match.covered_skills,
            match.uncovered_skills,
            match.algorithm_version,
            match.weights_version,
            match.origin,
            match.round_id,
            match.proposed_at,
            match.expires_at,
            match.mentee_accepted_at,
            match.mentor_accepted_at,
        )

    async def lock_match(self, match_id: uuid.UUID) -> Match | None:
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1 FOR UPDATE", match_id
        )
        return _match(row) if row is not None else None

    async def get_match(self, match_id: uuid.UUID) -> Match | None:
        row = await self._conn.fetchrow(
            f"SELECT {_MATCH_COLUMNS} FROM matches WHERE id = $1", match_id
        )
        return _match(row) if row is not None else None

    async def save_match(self, match: Match, *, was: MatchStatus) -> None:
        """Store an answered or ended match (`Match.accept`, `decline`, `expire`). The match
        must still have status `was`: callers hold its row lock, so anything else is a bug,
        and the transaction fails rather than store a change decided on a stale read."""
        saved = await self._conn.fetchval(
            """
            UPDATE matches SET status = $2, mentee_accepted_at = $3, mentor_accepted_at = $4,
                               accepted_at = $5, ended_at = $6, end_reason = $7,
                               declined_by = $8, decline_reason = $9
            WHERE id = $1 AND status = $10
            RETURNING true
            """,
            match.id,
            match.status,
            match.mentee_accepted_at,
            match.mentor_accepted_at,
            match.accepted_at,
            match.ended_at,
            match.end_reason,
            match.declined_by,
            match.decline_reason,
            was,
        )
        if not saved:
            raise LookupError(f"match {match.id} is no longer {was}")

    async def open_matches_of(self, profile_id: uuid.UUID) -> list[Match]:
        """Open matches the profile is in, as mentee or mentor, locked, newest first."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_MATCH_COLUMNS} FROM matches
            WHERE (mentee_id = $1 OR mentor_id = $1) AND status IN ({_OPEN})
            ORDER BY proposed_at DESC, id
            FOR UPDATE
            """,
            profile_id,
        )
        return [_match(row) for row in rows]

    async def due_proposals(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Ids of proposals whose answer time has passed, oldest deadline first."""
        rows = await self._conn.fetch(
            f"""
            SELECT id FROM matches WHERE status IN ({_PROPOSED}) AND expires_at <= $1
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

    async def matches_for_mentee(self, mentee_id: uuid.UUID, limit: int = 50) -> list[Match]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_MATCH_COLUMNS} FROM matches WHERE mentee_id = $1
            ORDER BY proposed_at DESC, id LIMIT $2
            """,
            mentee_id,
            limit,
        )
        return [_match(row) for row in rows]

    async def matches_for_mentor(self, mentor_id: uuid.UUID, limit: int = 50) -> list[Match]:
        rows = await self._conn.fetch(
            f"""
            SELECT {_MATCH_COLUMNS} FROM matches WHERE mentor_id = $1
            ORDER BY proposed_at DESC, id LIMIT $2
            """,
            mentor_id,
            limit,
        )
        return [_match(row) for row in rows]

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

    # --- learning plans -------------------------------------------------------------------

    async def record_learning_plan(
        self, mentee_id: uuid.UUID, digest: str, resources_version: int
    ) -> int | None:
        """Record a new version of the mentee's plan and return its number, unless the latest
        version has this digest already (None: nothing new to mail). Callers hold the mentee's
        row lock; the primary key stops a second writer that does not."""
        version: int | None = await self._conn.fetchval(
            """
            WITH latest AS (
                SELECT version, digest FROM learning_plans WHERE mentee_id = $1
                ORDER BY version DESC LIMIT 1
            )
            INSERT INTO learning_plans (mentee_id, version, digest, resources_version)
            SELECT $1, coalesce((SELECT version FROM latest), 0) + 1, $2, $3
            WHERE NOT EXISTS (SELECT 1 FROM latest WHERE digest = $2)
            RETURNING version
            """,
            mentee_id,
            digest,
            resources_version,
        )
        return version

    async def latest_learning_plan(self, mentee_id: uuid.UUID) -> IssuedPlan | None:
        row = await self._conn.fetchrow(
            """
            SELECT version, resources_version, issued_at FROM learning_plans
            WHERE mentee_id = $1 ORDER BY version DESC LIMIT 1
            """,
            mentee_id,
        )
        return IssuedPlan(**dict(row)) if row is not None else None

    # --- outcomes ---------------------------------------------------------------------------

    async def add_outcome(self, outcome: MatchOutcome) -> bool:
        """Keep a finished mentorship's outcome; False if its match has one already."""
        return bool(
            await self._conn.fetchval(
                f"""
                INSERT INTO match_outcomes ({_OUTCOME_COLUMNS}) VALUES ({_OUTCOME_VALUES})
                ON CONFLICT (match_id) DO NOTHING
                RETURNING true
                """,
                *(getattr(outcome, name) for name in _OUTCOME_FIELDS),
            )
        )

    async def outcomes(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[MatchOutcome]:
        """Finished mentorships' outcomes that ended in [since, until), oldest first."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_OUTCOME_COLUMNS} FROM match_outcomes
            WHERE ($1::timestamptz IS NULL OR ended_at >= $1)
              AND ($2::timestamptz IS NULL OR ended_at < $2)
            ORDER BY ended_at, match_id
            """,
            since,
            until,
        )
        return [MatchOutcome(**dict(row)) for row in rows]

    # --- metrics --------------------------------------------------------------------------

    async def count_matches_by_status(self) -> dict[MatchStatus, int]:
        rows = await self._conn.fetch(
            "SELECT status, count(*) AS matches FROM matches GROUP BY status"
        )
        return {MatchStatus(row["status"]): int(row["matches"]) for row in rows}

    # --- operator statistics: read only, for GET /v1/operator/stats ----------------------------

    @contextlib.asynccontextmanager
    async def operator_snapshot(self) -> AsyncIterator[datetime]:
        """A read-only transaction at one moment (repeatable read), so the statistics read
        inside agree with each other; yields the database's now(). Open it outside any other
        transaction (`uow.reading()`)."""
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            now: datetime = await self._conn.fetchval("SELECT now()")
            yield now

    async def count_mentees(self) -> int:
        count: int = await self._conn.fetchval("SELECT count(*) FROM mentees")
        return count

    async def waiting_mentees(self) -> list[tuple[uuid.UUID, datetime]]:
        """(mentee, waiting since) of every mentee without a proposed or accepted match:
        since registration, or since their last match ended if that is later."""
        rows = await self._conn.fetch(
            f"""
            SELECT m.id, greatest(m.registered_at, max(x.ended_at)) AS since
            FROM mentees m LEFT JOIN matches x ON x.mentee_id = m.id
            WHERE NOT EXISTS (SELECT 1 FROM matches o
                              WHERE o.mentee_id = m.id AND o.status IN ({_OPEN}))
            GROUP BY m.id, m.registered_at
            """
        )
        return [(row["id"], row["since"]) for row in rows]

    async def mentor_groups(self) -> list[tuple[int, int, bool, int]]:
        """(capacity asked for, load, accepting, how many mentors) of every combination."""
        rows = await self._conn.fetch(
            """
            SELECT requested_capacity AS capacity, load, accepting_mentees, count(*) AS mentors
            FROM mentors GROUP BY 1, 2, 3
            """
        )
        return [
            (row["capacity"], row["load"], row["accepting_mentees"], row["mentors"]) for row in rows
        ]

    async def match_outcomes(self) -> dict[str, int]:
        """Decided matches by outcome (accepted, declined, lapsed, withdrawn), all time."""
        rows = await self._conn.fetch(
            f"""
            SELECT {_OUTCOME_SQL} AS outcome, count(*) AS n FROM matches
            WHERE accepted_at IS NOT NULL OR status IN ('declined', 'expired')
            GROUP BY 1
            """
        )
        return {row["outcome"]: row["n"] for row in rows}

    async def first_proposal_at(self) -> datetime | None:
        first: datetime | None = await self._conn.fetchval("SELECT min(proposed_at) FROM matches")
        return first

    async def proposals_per_bucket(
        self, unit: Literal["hour", "day"], since: datetime
    ) -> dict[datetime, int]:
        """Proposals made per hour or day (UTC) from `since`, keyed by the bucket's start."""
        rows = await self._conn.fetch(
            """
            SELECT date_trunc($1, proposed_at AT TIME ZONE 'UTC') AS bucket, count(*) AS n
            FROM matches WHERE proposed_at >= $2 GROUP BY 1
            """,
            unit,
            since,
        )
        return {_utc(row["bucket"]): row["n"] for row in rows}

    async def decisions_per_bucket(
        self, unit: Literal["hour", "day"], since: datetime
    ) -> dict[tuple[datetime, str], int]:
        """Decisions taken per hour or day (UTC) from `since`, by (bucket start, outcome)."""
        rows = await self._conn.fetch(
            f"""
            SELECT date_trunc($1, coalesce(accepted_at, ended_at) AT TIME ZONE 'UTC') AS bucket,
                   {_OUTCOME_SQL} AS outcome, count(*) AS n
            FROM matches WHERE coalesce(accepted_at, ended_at) >= $2
              AND (accepted_at IS NOT NULL OR status IN ('declined', 'expired'))
            GROUP BY 1, 2
            """,
            unit,
            since,
        )
        return {(_utc(row["bucket"]), row["outcome"]): row["n"] for row in rows}

    async def skill_demand(self) -> list[tuple[str, bool, int, int]]:
        """(skill, waiting, gap points, mentees with a gap) summed over mentees, apart for
        those waiting (no proposed or accepted match) and the others."""
        rows = await self._conn.fetch(
            f"""
            SELECT s->>'skill' AS skill,
                   NOT EXISTS (SELECT 1 FROM matches o
                               WHERE o.mentee_id = m.id AND o.status IN ({_OPEN})) AS waiting,
                   sum(greatest(0, (s->>'target')::int - (s->>'current')::int)) AS gap,
                   count(*) FILTER (WHERE (s->>'target')::int > (s->>'current')::int) AS mentees
            FROM mentees m CROSS JOIN LATERAL jsonb_array_elements(m.skills) s
            GROUP BY 1, 2
            """
        )
        return [(row["skill"], row["waiting"], row["gap"], row["mentees"]) for row in rows]

    async def skill_supply(self, strong_level: int) -> list[tuple[str, int, int]]:
        """(skill, mentors at or above `strong_level` in it, their free slots if accepting)."""
        rows = await self._conn.fetch(
            """
            SELECT s->>'skill' AS skill, count(*) AS mentors,
                   coalesce(sum(greatest(0, m.requested_capacity - m.load))
                            FILTER (WHERE m.accepting_mentees), 0) AS free_slots
            FROM mentors m CROSS JOIN LATERAL jsonb_array_elements(m.skills) s
            WHERE (s->>'level')::int >= $1
            GROUP BY 1
            """,
            strong_level,
        )
        return [(row["skill"], row["mentors"], row["free_slots"]) for row in rows]


# accepted: both sides said yes (whatever happened afterwards); lapsed: unanswered in time;
# withdrawn: ended by something other than the two people's answer.
_OUTCOME_SQL = """
    CASE WHEN accepted_at IS NOT NULL THEN 'accepted'
         WHEN status = 'declined' THEN 'declined'
         WHEN end_reason = 'timeout' THEN 'lapsed'
         ELSE 'withdrawn' END
"""


def _utc(value: datetime) -> datetime:
    """A bucket from `date_trunc(..., ts AT TIME ZONE 'UTC')` (naive, in UTC) made aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_MENTEE_COLUMNS = (
    "id, languages, skills, target_role, industries, timezone, max_timezone_difference_hours"
)
_MENTOR_COLUMNS = (
    "id, languages, skills, was_engineer, industries, timezone, capacity, load, accepting_mentees"
)
_MATCH_COLUMNS = """
    id, mentee_id, mentor_id, status, score, score_breakdown, explanation, covered_skills,
    uncovered_skills, algorithm_version, weights_version, origin, round_id, proposed_at,
    expires_at, mentee_accepted_at, mentor_accepted_at, accepted_at, ended_at, end_reason,
    declined_by, decline_reason
"""


_OUTCOME_FIELDS = tuple(MatchOutcome.model_fields)
_OUTCOME_COLUMNS = ", ".join(_OUTCOME_FIELDS)
_OUTCOME_VALUES = ", ".join(f"${i}" for i in range(1, len(_OUTCOME_FIELDS) + 1))


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


def _free_slots(
    capacity: Sequence[int], load: Sequence[int], accepting: Sequence[bool]
) -> IntArray:
    return free_slots(
        np.array(capacity, dtype=np.intp),
        np.array(load, dtype=np.intp),
        np.array(accepting, dtype=np.bool_),
    )


def _mentors(rows: Sequence[Any]) -> list[Mentor]:
    free = _free_slots(
        [row["capacity"] for row in rows],
        [row["load"] for row in rows],
        [row["accepting_mentees"] for row in rows],
    )
    return [
        Mentor(
            id=row["id"],
            languages=frozenset(row["languages"]),
            strengths=skill_vector(_levels(row["skills"], "level")),
            was_engineer=row["was_engineer"],
            industries=frozenset(row["industries"]),
            utc_offset_hours=utc_offset_hours(row["timezone"]),
            free_slots=int(slots),
        )
        for row, slots in zip(rows, free, strict=True)
    ]


def _match(row: Any) -> Match:
    fields = dict(row)
    return Match(**(fields | {"status": MatchStatus(fields["status"])}))

"""Mentorships and the people in them, in PostgreSQL: every SQL statement of the service."""

# ruff: noqa: S608 -- queries are assembled only from the column list and lock clause below
# (constants); every value travels as a bind parameter.

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mentorship_shared.contracts.events import MenteeSkill
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import forget_published

from .domain import (
    ERASED,
    Answer,
    AnswerFacts,
    Goal,
    Mentorship,
    MentorshipFacts,
    Milestone,
    Party,
    SkillLevels,
)


@dataclass(frozen=True)
class CheckInNote:
    """What was said at a check-in (kept apart from the aggregate: only people read it)."""

    mentorship_id: uuid.UUID
    number: int
    logged_by: Party
    logged_at: datetime
    discussed: str
    next_step: str


@dataclass(frozen=True)
class Assessment:
    id: uuid.UUID
    mentorship_id: uuid.UUID
    assessed_at: datetime
    levels: dict[str, int]


@dataclass(frozen=True)
class Access:
    """Who a mentorship belongs to, with the credentials that prove it."""

    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_credential: str | None
    mentor_credential: str | None


#: First key of the advisory locks on people (`lock_people`).
_PERSON_LOCK_CLASS = 0x6D656E74  # 'ment'

_MENTORSHIP_COLUMNS = """
    id, match_id, mentee_id, mentor_id, status, cadence_weeks, started_at, schedule_anchor,
    check_ins, reminded_for, nudged_for, completion_proposed_by, ended_at, ending, end_cause,
    ended_by, end_reason, feedback_due_by, outcome_recorded_at
"""


class MentorshipRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- people ------------------------------------------------------------------------

    async def lock_people(self, profile_ids: Sequence[uuid.UUID]) -> None:
        """Serialise, until the transaction ends, what is decided about these people: a
        profile and an acceptance of the same mentee, handled at once by two consumers, would
        otherwise each miss the other (the mentorship would never learn the mentee's gaps).
        Taken in one global order, so two transactions never wait for each other."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(p::text)) "
            "FROM unnest($2::uuid[]) AS p ORDER BY hashtext(p::text)",
            _PERSON_LOCK_CLASS,
            sorted(set(profile_ids)),
        )

    async def upsert_person(
        self,
        profile_id: uuid.UUID,
        *,
        kind: str,
        version: int,
        credential: str | None,
        skills: Sequence[MenteeSkill] = (),
    ) -> bool:
        """Keep the newest version of a person; False if the version is stale or the person
        was erased. A credential is kept when an event carries none."""
        return bool(
            await self._conn.fetchval(
                """
                INSERT INTO people (profile_id, kind, version, credential, skills)
                SELECT $1::uuid, $2::text, $3::integer, $4::text, $5::jsonb
                WHERE NOT EXISTS (SELECT 1 FROM erased_profiles WHERE id = $1::uuid)
                ON CONFLICT (profile_id) DO UPDATE SET
                    kind = EXCLUDED.kind, version = EXCLUDED.version,
                    credential = COALESCE(EXCLUDED.credential, people.credential),
                    skills = EXCLUDED.skills, updated_at = now()
                WHERE people.version < EXCLUDED.version
                RETURNING true
                """,
                profile_id,
                kind,
                version,
                credential,
                [skill.model_dump() for skill in skills],
            )
        )

    async def mentee_skills(self, mentee_id: uuid.UUID) -> list[MenteeSkill] | None:
        """The mentee's self-assessment, or None while their profile has not arrived."""
        skills = await self._conn.fetchval(
            "SELECT skills FROM people WHERE profile_id = $1 AND kind = 'mentee'", mentee_id
        )
        if skills is None:
            return None
        return [MenteeSkill.model_validate(skill) for skill in skills]

    async def credential(self, profile_id: uuid.UUID) -> str | None:
        credential: str | None = await self._conn.fetchval(
            "SELECT credential FROM people WHERE profile_id = $1", profile_id
        )
        return credential

    async def access(self, mentorship_id: uuid.UUID) -> Access | None:
        row = await self._conn.fetchrow(
            """
            SELECT m.mentee_id, m.mentor_id,
                   e.credential AS mentee_credential, r.credential AS mentor_credential
            FROM mentorships m
            LEFT JOIN people e ON e.profile_id = m.mentee_id
            LEFT JOIN people r ON r.profile_id = m.mentor_id
            WHERE m.id = $1
            """,
            mentorship_id,
        )
        return None if row is None else Access(**dict(row))

    async def any_erased(self, profile_ids: Sequence[uuid.UUID]) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM erased_profiles WHERE id = ANY($1::uuid[]))",
                list(profile_ids),
            )
        )

    async def erase_person(
        self, profile_id: uuid.UUID, mentorship_ids: Sequence[uuid.UUID]
    ) -> None:
        """Forget the person and remember that they were erased; the check-in notes of their
        mentorships are blanked (either side may be named in them), and the published events
        about the person and those mentorships leave the outbox."""
        await self._conn.execute("DELETE FROM people WHERE profile_id = $1", profile_id)
        await self._conn.execute(
            "UPDATE check_ins SET discussed = $2, next_step = $2 "
            "WHERE mentorship_id = ANY($1::uuid[])",
            list(mentorship_ids),
            ERASED,
        )
        await forget_published(self._conn, [str(profile_id), *map(str, mentorship_ids)])
        await self._conn.execute(
            "INSERT INTO erased_profiles (id) VALUES ($1) ON CONFLICT DO NOTHING", profile_id
        )

    # --- mentorships ---------------------------------------------------------------------

    async def add(self, mentorship: Mentorship, wake_at: datetime | None) -> bool:
        """Store a new mentorship; False if its match has one already."""
        m = mentorship
        inserted = await self._conn.fetchval(
            """
            INSERT INTO mentorships (id, match_id, mentee_id, mentor_id, cadence_weeks,
                                     started_at, schedule_anchor, wake_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (match_id) DO NOTHING
            RETURNING true
            """,
            m.id,
            m.match_id,
            m.mentee_id,
            m.mentor_id,
            m.cadence_weeks,
            m.started_at,
            m.schedule_anchor,
            wake_at,
        )
        if not inserted:
            return False
        await self._save_children(m)
        return True

    async def get(self, mentorship_id: uuid.UUID, *, for_update: bool = False) -> Mentorship | None:
        """The whole mentorship; with `for_update`, its row stays locked until the transaction
        ends, so one change at a time decides on it."""
        lock = "FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_MENTORSHIP_COLUMNS} FROM mentorships WHERE id = $1 {lock}",
            mentorship_id,
        )
        return None if row is None else await self._load(row)

    async def lock_if_due(self, mentorship_id: uuid.UUID, now: datetime) -> Mentorship | None:
        """The mentorship, locked, if the scheduler has something to do for it now and no other
        scheduler holds it (SKIP LOCKED: that one is doing it)."""
        row = await self._conn.fetchrow(
            f"""
            SELECT {_MENTORSHIP_COLUMNS} FROM mentorships
            WHERE id = $1 AND wake_at <= $2
            FOR UPDATE SKIP LOCKED
            """,
            mentorship_id,
            now,
        )
        return None if row is None else await self._load(row)

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Mentorships the scheduler has something to do for, the longest waiting first."""
        rows = await self._conn.fetch(
            "SELECT id FROM mentorships WHERE wake_at <= $1 ORDER BY wake_at LIMIT $2",
            now,
            limit,
        )
        return [row["id"] for row in rows]

    async def ids_of_person(self, profile_id: uuid.UUID) -> list[uuid.UUID]:
        """The person's mentorships, newest first."""
        rows = await self._conn.fetch(
            "SELECT id FROM mentorships WHERE $1 IN (mentee_id, mentor_id) "
            "ORDER BY started_at DESC, id",
            profile_id,
        )
        return [row["id"] for row in rows]

    async def without_baseline(self, mentee_id: uuid.UUID) -> list[uuid.UUID]:
        """The mentee's running mentorships that do not know the mentee's gaps yet."""
        rows = await self._conn.fetch(
            """
            SELECT m.id FROM mentorships m
            WHERE m.mentee_id = $1 AND m.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM mentorship_skills s WHERE s.mentorship_id = m.id)
            """,
            mentee_id,
        )
        return [row["id"] for row in rows]

    async def save(self, mentorship: Mentorship, wake_at: datetime | None) -> None:
        """Write the mentorship as it is now (its row must be locked by this transaction)."""
        m = mentorship
        await self._conn.execute(
            """
            UPDATE mentorships SET
                status = $2, cadence_weeks = $3, schedule_anchor = $4, check_ins = $5,
                reminded_for = $6, nudged_for = $7, completion_proposed_by = $8,
                ended_at = $9, ending = $10, end_cause = $11, ended_by = $12, end_reason = $13,
                feedback_due_by = $14, outcome_recorded_at = $15, wake_at = $16
            WHERE id = $1
            """,
            m.id,
            m.status,
            m.cadence_weeks,
            m.schedule_anchor,
            m.check_ins,
            m.reminded_for,
            m.nudged_for,
            m.completion_proposed_by,
            m.ended_at,
            m.ending,
            m.end_cause,
            m.ended_by,
            m.end_reason,
            m.feedback_due_by,
            m.outcome_recorded_at,
            wake_at,
        )
        await self._save_children(m)

    async def _save_children(self, m: Mentorship) -> None:
        if m.skills:
            await self._conn.executemany(
                """
                INSERT INTO mentorship_skills (mentorship_id, skill, start_level, target_level,
                                               current_level)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (mentorship_id, skill) DO UPDATE SET
                    current_level = EXCLUDED.current_level
                """,
                [(m.id, s.skill, s.start, s.target, s.current) for s in m.skills],
            )
        # Removed goals first: a new goal may take the position one of them held.
        await self._conn.execute(
            "DELETE FROM goals WHERE mentorship_id = $1 AND NOT (id = ANY($2::uuid[]))",
            m.id,
            [goal.id for goal in m.goals],
        )
        if m.goals:
            await self._conn.executemany(
                """
                INSERT INTO goals (id, mentorship_id, position, skill, title, status, proposed_at,
                                   agreed_at, achieved_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (id) DO UPDATE SET
                    title = EXCLUDED.title, status = EXCLUDED.status,
                    agreed_at = EXCLUDED.agreed_at, achieved_at = EXCLUDED.achieved_at
                """,
                [
                    (
                        g.id,
                        m.id,
                        g.position,
                        g.skill,
                        g.title,
                        g.status,
                        g.proposed_at,
                        g.agreed_at,
                        g.achieved_at,
                    )
                    for g in m.goals
                ],
            )
            milestones = [
                (x.id, g.id, position, x.title, x.due_on, x.done_at)
                for g in m.goals
                for position, x in enumerate(g.milestones, start=1)
            ]
            if milestones:
                await self._conn.executemany(
                    """
                    INSERT INTO milestones (id, goal_id, position, title, due_on, done_at)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (id) DO UPDATE SET
                        title = EXCLUDED.title, done_at = EXCLUDED.done_at
                    """,
                    milestones,
                )
        if m.answers:
            await self._conn.executemany(
                """
                INSERT INTO feedback (mentorship_id, party, round, csat, nps, comment,
                                      share_comment, given_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (mentorship_id, party, round) DO UPDATE SET
                    comment = EXCLUDED.comment, share_comment = EXCLUDED.share_comment
                """,
                [
                    (m.id, a.party, a.round, a.csat, a.nps, a.comment, a.share_comment, a.given_at)
                    for a in m.answers
                ],
            )

    async def _load(self, row: Any) -> Mentorship:
        mentorship_id: uuid.UUID = row["id"]
        skills = await self._conn.fetch(
            "SELECT skill, start_level, target_level, current_level FROM mentorship_skills "
            "WHERE mentorship_id = $1 ORDER BY skill",
            mentorship_id,
        )
        goal_rows = await self._conn.fetch(
            "SELECT id, position, skill, title, status, proposed_at, agreed_at, achieved_at "
            "FROM goals WHERE mentorship_id = $1 ORDER BY position",
            mentorship_id,
        )
        milestone_rows = await self._conn.fetch(
            """
            SELECT x.id, x.goal_id, x.title, x.due_on, x.done_at
            FROM milestones x JOIN goals g ON g.id = x.goal_id
            WHERE g.mentorship_id = $1 ORDER BY x.goal_id, x.position
            """,
            mentorship_id,
        )
        answer_rows = await self._conn.fetch(
            "SELECT party, round, csat, nps, comment, share_comment, given_at FROM feedback "
            "WHERE mentorship_id = $1 ORDER BY given_at, party",
            mentorship_id,
        )
        milestones: dict[uuid.UUID, list[Milestone]] = {}
        for x in milestone_rows:
            milestones.setdefault(x["goal_id"], []).append(
                Milestone(id=x["id"], title=x["title"], due_on=x["due_on"], done_at=x["done_at"])
            )
        return Mentorship(
            id=mentorship_id,
            match_id=row["match_id"],
            mentee_id=row["mentee_id"],
            mentor_id=row["mentor_id"],
            started_at=row["started_at"],
            cadence_weeks=row["cadence_weeks"],
            schedule_anchor=row["schedule_anchor"],
            status=row["status"],
            check_ins=row["check_ins"],
            reminded_for=row["reminded_for"],
            nudged_for=row["nudged_for"],
            goals=tuple(
                Goal(
                    id=g["id"],
                    skill=g["skill"],
                    title=g["title"],
                    position=g["position"],
                    proposed_at=g["proposed_at"],
                    status=g["status"],
                    agreed_at=g["agreed_at"],
                    achieved_at=g["achieved_at"],
                    milestones=tuple(milestones.get(g["id"], ())),
                )
                for g in goal_rows
            ),
            skills=tuple(
                SkillLevels(
                    skill=s["skill"],
                    start=s["start_level"],
                    target=s["target_level"],
                    current=s["current_level"],
                )
                for s in skills
            ),
            answers=tuple(
                Answer(
                    party=a["party"],
                    round=a["round"],
                    csat=a["csat"],
                    nps=a["nps"],
                    comment=a["comment"],
                    share_comment=a["share_comment"],
                    given_at=a["given_at"],
                )
                for a in answer_rows
            ),
            completion_proposed_by=row["completion_proposed_by"],
            ended_at=row["ended_at"],
            ending=row["ending"],
            end_cause=row["end_cause"],
            ended_by=row["ended_by"],
            end_reason=row["end_reason"],
            feedback_due_by=row["feedback_due_by"],
            outcome_recorded_at=row["outcome_recorded_at"],
        )

    # --- check-ins and assessments ---------------------------------------------------------

    async def add_check_in(self, note: CheckInNote) -> None:
        await self._conn.execute(
            "INSERT INTO check_ins (mentorship_id, number, logged_by, logged_at, discussed, "
            "next_step) VALUES ($1, $2, $3, $4, $5, $6)",
            note.mentorship_id,
            note.number,
            note.logged_by,
            note.logged_at,
            note.discussed,
            note.next_step,
        )

    async def check_ins(self, mentorship_id: uuid.UUID) -> list[CheckInNote]:
        rows = await self._conn.fetch(
            "SELECT mentorship_id, number, logged_by, logged_at, discussed, next_step "
            "FROM check_ins WHERE mentorship_id = $1 ORDER BY number",
            mentorship_id,
        )
        return [CheckInNote(**dict(row)) for row in rows]

    async def add_assessment(self, assessment: Assessment) -> None:
        await self._conn.execute(
            "INSERT INTO assessments (id, mentorship_id, assessed_at, levels) "
            "VALUES ($1, $2, $3, $4)",
            assessment.id,
            assessment.mentorship_id,
            assessment.assessed_at,
            assessment.levels,
        )

    async def assessments(self, mentorship_id: uuid.UUID) -> list[Assessment]:
        rows = await self._conn.fetch(
            "SELECT id, mentorship_id, assessed_at, levels FROM assessments "
            "WHERE mentorship_id = $1 ORDER BY assessed_at, id",
            mentorship_id,
        )
        return [Assessment(**dict(row)) for row in rows]

    # --- reports and metrics --------------------------------------------------------------

    async def report_facts(
        self, since: datetime, until: datetime
    ) -> tuple[list[MentorshipFacts], list[AnswerFacts]]:
        """The mentorships that started or ended in [since, until), with their gaps, and the
        survey answers given then."""
        rows = await self._conn.fetch(
            """
            SELECT m.started_at, m.ended_at, m.ending,
                   COALESCE(array_agg(ARRAY[s.start_level, s.target_level, s.current_level]
                                      ORDER BY s.skill) FILTER (WHERE s.skill IS NOT NULL),
                            '{}') AS levels,
                   COALESCE(array_agg(s.skill ORDER BY s.skill)
                            FILTER (WHERE s.skill IS NOT NULL), '{}') AS skills
            FROM mentorships m
            LEFT JOIN mentorship_skills s ON s.mentorship_id = m.id
            WHERE (m.started_at >= $1 AND m.started_at < $2)
               OR (m.ended_at >= $1 AND m.ended_at < $2)
            GROUP BY m.id
            """,
            since,
            until,
        )
        mentorships = [
            MentorshipFacts(
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                ending=row["ending"],
                skills=tuple(
                    SkillLevels(skill=skill, start=levels[0], target=levels[1], current=levels[2])
                    for skill, levels in zip(row["skills"], row["levels"], strict=True)
                ),
            )
            for row in rows
        ]
        answers = [
            AnswerFacts(
                given_at=row["given_at"], party=row["party"], csat=row["csat"], nps=row["nps"]
            )
            for row in await self._conn.fetch(
                "SELECT given_at, party, csat, nps FROM feedback "
                "WHERE given_at >= $1 AND given_at < $2",
                since,
                until,
            )
        ]
        return mentorships, answers

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT status, count(*) AS mentorships FROM mentorships GROUP BY status"
        )
        return {row["status"]: row["mentorships"] for row in rows}

"""The matcher's numbers for operators: mentees waiting and for how long, mentor load against
capacity, proposals by status and the acceptance rate over time, skills in demand against the
strengths on offer. `GET /v1/operator/stats` (operator key) answers with them; the operator
console draws them, next to what it reads from the other services.

Read from the matching database in one snapshot (the repository's operator section), shaped
by the pure functions below.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from mentorship_shared.contracts.skills import TAXONOMY
from mentorship_shared.plumbing.deps import OperatorDep
from mentorship_shared.plumbing.http import ErrorBody
from pydantic import BaseModel, Field

from .api import SettingsDep, UowDep
from .match import MatchStatus
from .repository import MatchingRepository

router = APIRouter()

_OUTCOMES = ("accepted", "declined", "lapsed", "withdrawn")
LONGEST_WAITS = 10

# --- the response --------------------------------------------------------------------------


class CountBar(BaseModel):
    label: str = Field(description="What the bar counts, as shown on the page.")
    count: int = Field(ge=0, description="How many.")


class WaitingMentee(BaseModel):
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    waiting_since: datetime = Field(
        description="Registration, or the end of the mentee's last match if later."
    )
    waiting_hours: float = Field(ge=0, description="Hours waited so far.")


class MenteePanel(BaseModel):
    registered: int = Field(ge=0, description="Mentees the matcher knows.")
    with_open_match: int = Field(ge=0, description="Mentees with a proposed or accepted match.")
    waiting: int = Field(ge=0, description="Mentees without a proposed or accepted match.")
    wait_buckets: list[CountBar] = Field(
        description="Waiting mentees by how long they have waited, shortest wait first."
    )
    longest_waits: list[WaitingMentee] = Field(
        description=f"The {LONGEST_WAITS} mentees waiting longest, longest first."
    )


class CapacityRow(BaseModel):
    capacity: int = Field(ge=0, description="Mentees a mentor asked to take at once.")
    mentors: int = Field(ge=0, description="Mentors with this capacity.")
    slots: int = Field(ge=0, description="Their slots together (mentors times capacity).")
    used: int = Field(ge=0, description="Slots held by proposed or accepted matches.")


class MentorPanel(BaseModel):
    registered: int = Field(ge=0, description="Mentors the matcher knows.")
    accepting: int = Field(ge=0, description="Mentors accepting mentees (not paused).")
    slots: int = Field(ge=0, description="Capacity of every mentor together.")
    used: int = Field(ge=0, description="Slots held by proposed or accepted matches.")
    free_slots: int = Field(ge=0, description="Slots of accepting mentors not held by a match.")
    by_capacity: list[CapacityRow] = Field(
        description="Slots offered and used, per capacity mentors asked for, smallest first."
    )
    utilisation: list[CountBar] = Field(
        description="Mentors by load: no mentee yet, some slots used, full, paused."
    )


class StatusCount(BaseModel):
    status: str = Field(
        description="proposed, accepted, declined, expired, or concluded (its mentorship ended)."
    )
    count: int = Field(ge=0, description="Matches with this status now.")


class RateBucket(BaseModel):
    start: datetime = Field(description="Start of the hour or day (UTC).")
    proposed: int = Field(ge=0, description="Proposals made in it.")
    accepted: int = Field(ge=0, description="Matches both sides accepted in it.")
    declined: int = Field(ge=0, description="Proposals declined in it.")
    lapsed: int = Field(ge=0, description="Proposals that lapsed unanswered in it.")
    withdrawn: int = Field(
        ge=0,
        description="Proposals ended in it by something else: a profile deleted or changed, "
        "a mentor paused or lowered capacity. Not counted in the acceptance rate.",
    )
    acceptance_rate: float | None = Field(
        ge=0,
        le=1,
        description="accepted / (accepted + declined + lapsed) of the decisions in it; null "
        "without a decision.",
    )


class ProposalPanel(BaseModel):
    by_status: list[StatusCount] = Field(description="Every match by its current status.")
    acceptance_rate: float | None = Field(
        ge=0,
        le=1,
        description="All time: accepted / (accepted + declined + lapsed); null before the "
        "first decision.",
    )
    bucket: Literal["hour", "day"] = Field(description="The width of each time bucket.")
    over_time: list[RateBucket] = Field(description="Proposals and decisions, oldest first.")


class SkillRow(BaseModel):
    skill: str = Field(description="Skill id from the taxonomy.")
    name: str = Field(description="The skill's name.")
    demand_waiting: int = Field(
        ge=0, description="Sum of waiting mentees' gaps (target - current) in this skill."
    )
    mentees_waiting: int = Field(ge=0, description="Waiting mentees with a gap in this skill.")
    demand_all: int = Field(ge=0, description="Sum of every mentee's gap in this skill.")
    mentors_strong: int = Field(ge=0, description="Mentors at or above the strong level in it.")
    free_slots_strong: int = Field(
        ge=0, description="Free slots of accepting mentors strong in this skill."
    )


class SkillPanel(BaseModel):
    strong_level: int = Field(description="The level (0-5) from which a mentor counts as strong.")
    skills: list[SkillRow] = Field(description="Every skill, most needed by waiting mentees first.")


class OperatorStats(BaseModel):
    generated_at: datetime = Field(description="When the numbers were read (database time).")
    mentees: MenteePanel = Field(description="Mentees waiting and for how long.")
    mentors: MentorPanel = Field(description="Mentor load against capacity.")
    proposals: ProposalPanel = Field(description="Proposals by status and acceptance over time.")
    skills: SkillPanel = Field(description="Skills in demand against the strengths on offer.")


# --- pure parts ----------------------------------------------------------------------------

#: (label, upper bound in hours) of the wait-time buckets; the last one is open-ended.
WAIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 1),
    ("1-6 h", 6),
    ("6-24 h", 24),
    ("1-3 d", 72),
    ("3-7 d", 168),
    ("1-2 wk", 336),
    ("> 2 wk", math.inf),
)


def wait_buckets(hours: Iterable[float]) -> list[CountBar]:
    """How many waits fall in each of `WAIT_BUCKETS` (a wait on a bound goes to the next)."""
    counts = [0] * len(WAIT_BUCKETS)
    for value in hours:
        for index, (_, upper) in enumerate(WAIT_BUCKETS):
            if value < upper:
                counts[index] += 1
                break
    return [
        CountBar(label=label, count=n) for (label, _), n in zip(WAIT_BUCKETS, counts, strict=True)
    ]


@dataclass(frozen=True)
class MentorGroup:
    """Mentors with one (capacity, load, accepting) combination."""

    capacity: int
    load: int
    accepting: bool
    mentors: int


def mentor_panel(groups: Sequence[MentorGroup]) -> MentorPanel:
    by_capacity: dict[int, CapacityRow] = {}
    idle = partly = full = paused = 0
    for g in groups:
        row = by_capacity.setdefault(
            g.capacity, CapacityRow(capacity=g.capacity, mentors=0, slots=0, used=0)
        )
        row.mentors += g.mentors
        row.slots += g.capacity * g.mentors
        row.used += g.load * g.mentors
        if not g.accepting:
            paused += g.mentors
        elif g.load >= g.capacity:
            full += g.mentors
        elif g.load == 0:
            idle += g.mentors
        else:
            partly += g.mentors
    return MentorPanel(
        registered=sum(g.mentors for g in groups),
        accepting=sum(g.mentors for g in groups if g.accepting),
        slots=sum(g.capacity * g.mentors for g in groups),
        used=sum(g.load * g.mentors for g in groups),
        free_slots=sum(max(0, g.capacity - g.load) * g.mentors for g in groups if g.accepting),
        by_capacity=[by_capacity[c] for c in sorted(by_capacity)],
        utilisation=[
            CountBar(label="no mentee yet", count=idle),
            CountBar(label="some slots used", count=partly),
            CountBar(label="full", count=full),
            CountBar(label="paused", count=paused),
        ],
    )


def time_grid(
    now: datetime, first: datetime | None
) -> tuple[Literal["hour", "day"], list[datetime]]:
    """The buckets of the acceptance chart: hours while the first proposal is at most two days
    old (12 to 48 of them), days after that (7 to 30); always ending with the current one."""
    now = now.astimezone(UTC)
    span = now - first.astimezone(UTC) if first is not None else timedelta(0)
    if span <= timedelta(days=2):
        current = now.replace(minute=0, second=0, microsecond=0)
        hours = 0
        if first is not None:
            first_hour = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            hours = (current - first_hour) // timedelta(hours=1)
        count = min(48, max(12, hours + 1))
        return "hour", [current - timedelta(hours=n) for n in range(count - 1, -1, -1)]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert first is not None
    first_day = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count = min(30, max(7, (today - first_day).days + 1))
    return "day", [today - timedelta(days=n) for n in range(count - 1, -1, -1)]


def acceptance_rate(accepted: int, declined: int, lapsed: int) -> float | None:
    decided = accepted + declined + lapsed
    return round(accepted / decided, 4) if decided else None


def acceptance_series(
    starts: Sequence[datetime],
    proposed: Mapping[datetime, int],
    decisions: Mapping[tuple[datetime, str], int],
) -> list[RateBucket]:
    """One bucket per start: proposals made and decisions taken in it (counts keyed by the
    bucket's start; anything before the first start is left out)."""
    buckets = []
    for start in starts:
        counts = {outcome: decisions.get((start, outcome), 0) for outcome in _OUTCOMES}
        buckets.append(
            RateBucket(
                start=start,
                proposed=proposed.get(start, 0),
                **counts,
                acceptance_rate=acceptance_rate(
                    counts["accepted"], counts["declined"], counts["lapsed"]
                ),
            )
        )
    return buckets


def mentee_panel(
    registered: int, waiting: Sequence[tuple[uuid.UUID, datetime]], now: datetime
) -> MenteePanel:
    """The mentees panel from every waiting mentee's (id, waiting since)."""
    waits = sorted(
        (
            (max(0.0, (now - since) / timedelta(hours=1)), mentee_id, since)
            for mentee_id, since in waiting
        ),
        key=lambda wait: (-wait[0], str(wait[1])),
    )
    return MenteePanel(
        registered=registered,
        with_open_match=registered - len(waiting),
        waiting=len(waiting),
        wait_buckets=wait_buckets(hours for hours, _, _ in waits),
        longest_waits=[
            WaitingMentee(mentee_id=mentee_id, waiting_since=since, waiting_hours=round(hours, 2))
            for hours, mentee_id, since in waits[:LONGEST_WAITS]
        ],
    )


def skill_panel(
    strong_level: int,
    demand: Iterable[tuple[str, bool, int, int]],
    supply: Iterable[tuple[str, int, int]],
) -> SkillPanel:
    """Every skill of the taxonomy (and any other skill a profile names), most needed by
    waiting mentees first: demand is (skill, waiting, gap points, mentees), supply (skill,
    strong mentors, their free slots)."""
    rows: dict[str, SkillRow] = {}

    def row_of(skill_id: str, name: str | None = None) -> SkillRow:
        if skill_id not in rows:  # a skill of another taxonomy version keeps its id as name
            rows[skill_id] = SkillRow(
                skill=skill_id,
                name=name or skill_id,
                demand_waiting=0,
                mentees_waiting=0,
                demand_all=0,
                mentors_strong=0,
                free_slots_strong=0,
            )
        return rows[skill_id]

    for skill in TAXONOMY.skills:
        row_of(skill.id, skill.name)
    for skill_id, waiting, gap, mentees in demand:
        row = row_of(skill_id)
        row.demand_all += gap
        if waiting:
            row.demand_waiting += gap
            row.mentees_waiting += mentees
    for skill_id, mentors, free_slots in supply:
        row = row_of(skill_id)
        row.mentors_strong += mentors
        row.free_slots_strong += free_slots
    order = list(rows)
    ranked = sorted(
        rows.values(),
        key=lambda r: (-r.demand_waiting, -r.demand_all, order.index(r.skill)),
    )
    return SkillPanel(strong_level=strong_level, skills=ranked)


# --- reading -------------------------------------------------------------------------------


async def read_operator_stats(repo: MatchingRepository, strong_level: int) -> OperatorStats:
    """Every panel from one snapshot of the matching database."""
    async with repo.operator_snapshot() as now:
        mentees = mentee_panel(await repo.count_mentees(), await repo.waiting_mentees(), now)
        mentors = mentor_panel(
            [
                MentorGroup(capacity=capacity, load=load, accepting=accepting, mentors=count)
                for capacity, load, accepting, count in await repo.mentor_groups()
            ]
        )
        by_status = await repo.count_matches_by_status()
        outcomes = await repo.match_outcomes()
        unit, starts = time_grid(now, await repo.first_proposal_at())
        proposals = ProposalPanel(
            by_status=[StatusCount(status=s.value, count=by_status.get(s, 0)) for s in MatchStatus],
            acceptance_rate=acceptance_rate(
                outcomes.get("accepted", 0), outcomes.get("declined", 0), outcomes.get("lapsed", 0)
            ),
            bucket=unit,
            over_time=acceptance_series(
                starts,
                await repo.proposals_per_bucket(unit, starts[0]),
                await repo.decisions_per_bucket(unit, starts[0]),
            ),
        )
        skills = skill_panel(
            strong_level, await repo.skill_demand(), await repo.skill_supply(strong_level)
        )
    return OperatorStats(
        generated_at=now, mentees=mentees, mentors=mentors, proposals=proposals, skills=skills
    )


# --- the route -----------------------------------------------------------------------------

_OPERATOR: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."},
    403: {"model": ErrorBody, "description": "Not the operator key, or none is configured."},
}


@router.get(
    "/v1/operator/stats",
    tags=["operations"],
    summary="The matcher's numbers for the operator console (operator)",
    description=(
        "Read from the matching database in one snapshot: mentees waiting and for how long, "
        "mentor load against capacity, proposals by status and the acceptance rate over time, "
        "skills in demand against strengths on offer. The operator console draws them."
    ),
    responses=_OPERATOR,
)
async def get_operator_stats(_: OperatorDep, settings: SettingsDep, uow: UowDep) -> OperatorStats:
    async with uow.reading() as repo:
        return await read_operator_stats(repo, settings.match_policy().config.strong_level)

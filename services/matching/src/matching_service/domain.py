"""The matcher's view of mentees and mentors: hard constraints, ranking, shortlists, and the
explanation a person reads. Pure: arrays in, results out."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from mentorship_shared.contracts.skills import TAXONOMY

from .scoring import (
    ALGORITHM_VERSION,
    N_SKILLS,
    SKILL_IDS,
    SKILL_INDEX,
    BoolArray,
    ComponentScores,
    FloatArray,
    IntArray,
    ScoringConfig,
    combine,
    default_config,
    hours_apart,
    one_hot_levels,
    rank,
    rarity,
    skill_tables,
    timezone_overlap,
)

__all__ = ["SKILL_INDEX", "Mentee", "Mentor", "MentorPool", "Proposal", "skill_vector"]


@dataclass(frozen=True)
class Mentee:
    id: uuid.UUID
    languages: frozenset[str]
    current: FloatArray
    target: FloatArray
    target_role: str | None = None
    industries: frozenset[str] = frozenset()
    utc_offset_hours: float = 0.0
    max_timezone_difference_hours: int | None = None


@dataclass(frozen=True)
class Mentor:
    id: uuid.UUID
    languages: frozenset[str]
    strengths: FloatArray
    was_engineer: bool = False
    industries: frozenset[str] = frozenset()
    utc_offset_hours: float = 0.0
    free_slots: int = 1


@dataclass(frozen=True)
class Proposal:
    mentor_id: uuid.UUID
    score: float
    breakdown: dict[str, float]
    covered_skills: list[str]
    uncovered_skills: list[str]
    explanation: str
    algorithm_version: str = ALGORITHM_VERSION
    weights_version: str = field(default_factory=lambda: default_config().version)


def skill_vector(levels: dict[str, int]) -> FloatArray:
    """A vector over the taxonomy from {skill id: level}; skills not mentioned are 0."""
    vector = np.zeros(N_SKILLS)
    for skill_id, level in levels.items():
        index = SKILL_INDEX.get(skill_id)
        if index is not None:  # a skill from a newer taxonomy this matcher does not know
            vector[index] = level
    return vector


def utc_offset_hours(timezone: str, at: datetime | None = None) -> float:
    """The zone's UTC offset in hours now (or at `at`); 0 for a zone this host does not know."""
    moment = at or datetime.now(UTC)
    return _offset(timezone, moment.replace(minute=0, second=0, microsecond=0))


@lru_cache(maxsize=4096)
def _offset(timezone: str, hour: datetime) -> float:
    try:
        offset = hour.astimezone(ZoneInfo(timezone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0.0
    return offset.total_seconds() / 3600 if offset is not None else 0.0


class MentorPool:
    """Mentors as arrays, built once and scored against any number of mentees.

    `free_slots` is what the pool knew when it was read; the repository re-checks under the
    mentor's row lock before a slot is taken.
    """

    def __init__(
        self,
        mentors: Sequence[Mentor],
        config: ScoringConfig | None = None,
        market_rarity: FloatArray | None = None,
    ) -> None:
        self.config = config or default_config()
        self.mentors = list(mentors)
        self.ids = [mentor.id for mentor in self.mentors]
        self.position = {mentor_id: i for i, mentor_id in enumerate(self.ids)}
        n = len(self.mentors)
        self.levels = np.zeros((n, N_SKILLS), dtype=np.int8)
        if n:
            strengths = np.vstack([m.strengths for m in self.mentors])
            self.levels = np.clip(np.rint(strengths), 0, 5).astype(np.int8)
        self.one_hot = one_hot_levels(self.levels)
        self.rarity = (
            market_rarity
            if market_rarity is not None
            else rarity(self.levels, self.config.strong_level)
        )
        self._languages = _Vocabulary([m.languages for m in self.mentors])
        self._industries = _Vocabulary([m.industries for m in self.mentors])
        self.offsets = np.array([m.utc_offset_hours for m in self.mentors], dtype=np.float64)
        self.was_engineer = np.array([m.was_engineer for m in self.mentors], dtype=np.float64)
        self.free_slots = np.array([m.free_slots for m in self.mentors], dtype=np.intp)

    def __len__(self) -> int:
        return len(self.mentors)

    def with_availability(self, free_slots: IntArray, market_rarity: FloatArray) -> MentorPool:
        """This pool with other free slots and market rarity, sharing every encoded array (a
        cached pool serves each match without being rebuilt or changed)."""
        view = copy.copy(self)
        view.free_slots = free_slots
        view.rarity = market_rarity
        return view

    def speaks(self, languages: Collection[str]) -> BoolArray:
        """Per mentor: shares one of `languages`."""
        speaks: BoolArray = self._languages.shared([languages])[0]
        return speaks

    def evaluate(
        self,
        mentees: Sequence[Mentee],
        excluded: Sequence[Collection[uuid.UUID]] | None = None,
    ) -> tuple[ComponentScores, BoolArray]:
        """Scores and hard constraints together (they share the timezone distances)."""
        apart = self._hours_apart(mentees)
        return self.score(mentees, apart), self.eligible(mentees, excluded, apart)

    def _hours_apart(self, mentees: Sequence[Mentee]) -> FloatArray:
        return hours_apart(np.array([[m.utc_offset_hours] for m in mentees]), self.offsets)

    def score(self, mentees: Sequence[Mentee], apart: FloatArray | None = None) -> ComponentScores:
        """Every component for each mentee (rows) against every mentor (columns)."""
        current = np.vstack([m.current for m in mentees]) if mentees else np.zeros((0, N_SKILLS))
        target = np.vstack([m.target for m in mentees]) if mentees else np.zeros((0, N_SKILLS))
        roles = np.vstack([self.role_weights(m) for m in mentees]) if mentees else current
        tables = skill_tables(current, target, roles, self.rarity, self.config.strong_level)
        skill_parts = np.stack([self.one_hot @ table for table in tables]).transpose(0, 2, 1)
        industry = self._industry_share(mentees)
        if apart is None:
            apart = self._hours_apart(mentees)
        return combine(
            skill_parts,
            self.was_engineer[None, :],
            industry,
            timezone_overlap(apart, self.config.working_hours),
            self.config,
        )

    def role_weights(self, mentee: Mentee) -> FloatArray:
        return self.config.role_for(mentee.target_role).weights

    def eligible(
        self,
        mentees: Sequence[Mentee],
        excluded: Sequence[Collection[uuid.UUID]] | None = None,
        apart: FloatArray | None = None,
    ) -> BoolArray:
        """Hard constraints, (mentees, mentors): a shared language, a free slot, within the
        mentee's timezone limit, not the mentee themself, not a pair excluded before."""
        allowed = self._languages.shared(mentees_sets=[m.languages for m in mentees])
        allowed &= self.free_slots[None, :] > 0
        limits = np.array(
            [
                np.inf
                if m.max_timezone_difference_hours is None
                else m.max_timezone_difference_hours
                for m in mentees
            ]
        )
        if apart is None:
            apart = self._hours_apart(mentees)
        allowed &= apart <= limits[:, None]
        for row, mentee in enumerate(mentees):
            blocked = [mentee.id, *(excluded[row] if excluded is not None else ())]
            columns = [self.position[i] for i in blocked if i in self.position]
            allowed[row, columns] = False
        return allowed

    def _industry_share(self, mentees: Sequence[Mentee]) -> FloatArray:
        wanted = self._industries.encode([m.industries for m in mentees])  # (b, vocab)
        # The share of all the mentee's industries, not only of those some mentor lists, so a
        # mentor's score does not depend on who else is in the pool.
        counts = np.array([[float(len(m.industries))] for m in mentees]).reshape(-1, 1)
        shared = wanted @ self._industries.matrix.T  # (b, n): industries in common
        return np.where(counts > 0, shared / np.where(counts > 0, counts, 1.0), 0.0)


class _Vocabulary:
    """Sets of codes (languages, industries) as an indicator matrix over the codes in use."""

    def __init__(self, sets: Sequence[frozenset[str]]) -> None:
        self.codes = {code: i for i, code in enumerate(sorted(set().union(*sets)))}
        self.matrix = self.encode(sets)

    def encode(self, sets: Sequence[Collection[str]]) -> FloatArray:
        matrix = np.zeros((len(sets), len(self.codes)))
        for row, codes in enumerate(sets):
            matrix[row, [self.codes[c] for c in codes if c in self.codes]] = 1.0
        return matrix

    def shared(self, mentees_sets: Sequence[Collection[str]]) -> BoolArray:
        result: BoolArray = (self.encode(mentees_sets) @ self.matrix.T) > 0
        return result


# --- one mentee ----------------------------------------------------------------------------


def iter_proposals(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = ()
) -> Iterator[Proposal]:
    """Eligible mentors who can teach part of the gap, best first, each with its explanation
    (built only when the caller asks for the next one)."""
    if not len(pool):
        return
    scores, allowed = pool.evaluate([mentee], [excluded])
    eligible = allowed[0]
    for column in rank(scores.total[0], eligible):
        yield proposal_for(mentee, pool, scores, 0, int(column))


def rank_mentors(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = (), limit: int | None = None
) -> list[Proposal]:
    proposals = []
    for proposal in iter_proposals(mentee, pool, excluded):
        proposals.append(proposal)
        if limit is not None and len(proposals) >= limit:
            break
    return proposals


def proposal_for(
    mentee: Mentee, pool: MentorPool, scores: ComponentScores, row: int, column: int
) -> Proposal:
    mentor = pool.mentors[column]
    covered, uncovered = covered_gaps(mentee, mentor, pool.role_weights(mentee))
    return Proposal(
        mentor_id=mentor.id,
        score=round(float(scores.total[row, column]), 4),
        breakdown=scores.breakdown(row, column),
        covered_skills=covered,
        uncovered_skills=uncovered,
        explanation=explain(mentee, mentor, covered, uncovered, pool.config.working_hours),
        weights_version=pool.config.version,
    )


# --- many mentees --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortlists:
    """Per mentee, up to k mentor positions in the pool (best first; -1 pads) and scores."""

    mentors: IntArray
    scores: FloatArray


def shortlists(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    k: int,
    *,
    excluded: Sequence[Collection[uuid.UUID]] | None = None,
    exposure: IntArray | None = None,
    exposure_per_slot: int = 3,
    block: int = 256,
) -> Shortlists:
    """Top-k eligible mentors for each mentee, with exposure limited by remaining capacity.

    A mentor appears on at most `exposure_per_slot * free_slots` shortlists (counting those in
    `exposure`, which is updated in place): with scarce capacity, one star mentor cannot top
    every list, and later mentees see the next best instead. Mentees are served in order.
    """
    n = len(mentees)
    seen = exposure if exposure is not None else np.zeros(len(pool), dtype=np.intp)
    limit = pool.free_slots * exposure_per_slot
    result = np.full((n, k), -1, dtype=np.intp)
    result_scores = np.zeros((n, k))
    # More than k per mentee, so that mentors at their exposure limit can be skipped.
    depth = min(len(pool), k * 4)
    for start in range(0, n, block):
        batch = mentees[start : start + block]
        components, allowed = pool.evaluate(
            batch, excluded[start : start + block] if excluded else None
        )
        scores = components.total
        masked = np.where(allowed & (scores > 0), scores, -1.0)
        if depth == 0:
            continue
        top = np.argpartition(-masked, depth - 1, axis=1)[:, :depth]
        for row in range(len(batch)):
            columns = top[row]
            ranked = columns[np.lexsort((columns, -masked[row, columns]))]
            taken = _fill_shortlist(ranked, masked[row], seen, limit, k, result[start + row])
            if taken < k and depth < len(pool):
                # The best few are all at their exposure limit: look further down the ranking,
                # among the mentors who still have exposure left (often none, once a scarce
                # market is used up, and then this costs one pass over the row).
                room = (seen < limit) & (masked[row] > 0)
                room[result[start + row, :taken]] = False
                rest = np.flatnonzero(room)
                if len(rest):
                    rest = rest[np.lexsort((rest, -masked[row, rest]))]
                    taken = _fill_shortlist(
                        rest, masked[row], seen, limit, k, result[start + row], taken
                    )
            filled = result[start + row, :taken]
            result_scores[start + row, :taken] = masked[row, filled]
    return Shortlists(mentors=result, scores=result_scores)


def _fill_shortlist(
    ranked: IntArray,
    scores: FloatArray,
    seen: IntArray,
    limit: IntArray,
    k: int,
    out: IntArray,
    taken: int = 0,
) -> int:
    """Append mentors from `ranked` (best first) to `out` while they score above 0, skipping
    those at their exposure limit; returns how many `out` holds."""
    for column in ranked:
        if taken == k or scores[column] <= 0:
            break
        if seen[column] >= limit[column]:
            continue
        seen[column] += 1
        out[taken] = column
        taken += 1
    return taken


# --- explanation ---------------------------------------------------------------------------


def covered_gaps(
    mentee: Mentee, mentor: Mentor, role_weights: FloatArray | None = None
) -> tuple[list[str], list[str]]:
    """Gap skills the mentor is at or above target on, and the rest; the gaps that matter most
    for the mentee's target role first."""
    weights = np.ones(N_SKILLS) if role_weights is None else role_weights
    # Only the order of the weighted gaps matters here, so no normalisation (for one row,
    # scikit-learn's input checks would cost more than the arithmetic).
    share = np.clip(mentee.target - mentee.current, 0.0, None) * weights
    order = sorted(np.flatnonzero(share), key=lambda i: (-share[i], -mentor.strengths[i], i))
    covered = [SKILL_IDS[i] for i in order if mentor.strengths[i] >= mentee.target[i]]
    uncovered = [SKILL_IDS[i] for i in order if mentor.strengths[i] < mentee.target[i]]
    return covered, uncovered


def explain(
    mentee: Mentee,
    mentor: Mentor,
    covered: list[str],
    uncovered: list[str],
    working_hours: float = 9.0,
) -> str:
    """A short explanation a person reads: the gaps the mentor covers best, those left, and
    the soft reasons that helped."""

    def describe(skill_id: str) -> str:
        i = SKILL_INDEX[skill_id]
        return (
            f"{TAXONOMY.by_id(skill_id).short_name} "
            f"(you {int(mentee.current[i])} -> {int(mentee.target[i])}, "
            f"mentor {int(mentor.strengths[i])})"
        )

    if covered:
        noun = "gap" if len(covered) == 1 else "gaps"
        sentence = f"Covers your {noun} in {_join_some([describe(s) for s in covered])}."
    else:
        # No skill where the mentor reaches the target, but the score is positive: say where
        # they can take the mentee furthest, and leave that skill out of "not covered".
        gaps = np.clip(mentee.target - mentee.current, 0.0, None)
        reach = np.clip(mentor.strengths - mentee.current, 0.0, gaps)
        best = SKILL_IDS[max(np.flatnonzero(gaps), key=lambda i: (reach[i], gaps[i], -i))]
        sentence = f"Can take you part of the way in {describe(best)}."
        uncovered = [skill for skill in uncovered if skill != best]
    parts = [sentence]
    if uncovered:
        names = [TAXONOMY.by_id(s).short_name for s in uncovered]
        parts.append(f"Not covered: {_join_some(names)}.")
    if mentor.was_engineer:
        parts.append("Made the move from engineering to product too.")
    shared = sorted(mentee.industries & mentor.industries)
    if shared:
        parts.append(f"Knows {_join_some(shared, shown=2)} like you.")
    apart = float(hours_apart(np.array(mentee.utc_offset_hours), np.array(mentor.utc_offset_hours)))
    if apart == 0:
        parts.append("Same working hours as you.")
    elif apart < working_hours:
        hours = f"{apart:g} hour" + ("" if apart == 1 else "s")
        parts.append(f"{hours} apart, so your working days overlap.")
    return " ".join(parts)


def _join_some(items: list[str], shown: int = 3) -> str:
    """'a, b and c', or 'a, b, c and 2 more' when there are more than `shown`."""
    if len(items) > shown:
        items = [*items[:shown], f"{len(items) - shown} more"]
    return _join(items)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"

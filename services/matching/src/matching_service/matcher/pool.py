"""Mentees and mentors as the matcher sees them, and the mentor pool: every mentor encoded as
arrays once, scored against any number of mentees, with the hard constraints. Pure: arrays
in, results out."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .scoring import (
    N_SKILLS,
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
    rarity,
    skill_tables,
    timezone_overlap,
)

__all__ = ["SKILL_INDEX", "Mentee", "Mentor", "MentorPool", "free_slots", "skill_vector"]


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


def skill_vector(levels: dict[str, int]) -> FloatArray:
    """A vector over the taxonomy from {skill id: level}; skills not mentioned are 0."""
    vector = np.zeros(N_SKILLS)
    for skill_id, level in levels.items():
        index = SKILL_INDEX.get(skill_id)
        if index is not None:  # a skill from a newer taxonomy this matcher does not know
            vector[index] = level
    return vector


def free_slots(capacity: IntArray, load: IntArray, accepting: BoolArray) -> IntArray:
    """Per mentor, the slots open to new proposals: none while the mentor has paused, else the
    ceiling minus the matches holding a slot (never below 0)."""
    free: IntArray = np.where(accepting, np.maximum(capacity - load, 0), 0).astype(np.intp)
    return free


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
        #: The mentors `rarity` is measured on (all of them, unless a view says otherwise).
        self.market = np.ones(n, dtype=np.bool_)

    def __len__(self) -> int:
        return len(self.mentors)

    def available(
        self,
        free_slots: IntArray,
        languages: Collection[str] | None = None,
        include: Collection[uuid.UUID] = (),
    ) -> MentorPool:
        """This pool with `free_slots` (one per mentor, in column order), scored against the
        market of mentors with a free slot who share one of `languages` (if given), plus those
        in `include` whatever their slots: exactly as a pool of only those mentors would
        score. Mentors outside the market stay columns, but without a slot none is eligible."""
        market = free_slots > 0
        if languages is not None:
            market &= self.speaks(languages)
        for mentor_id in include:
            column = self.position.get(mentor_id)
            if column is not None:
                market[column] = True
        return self._with_availability(free_slots, market)

    def holding(self, mentor_id: uuid.UUID) -> MentorPool:
        """This pool with one more free slot for the mentor: the slot an open match holds,
        counted as free while that match is reconsidered."""
        column = self.position.get(mentor_id)
        if column is None:
            return self
        free = self.free_slots.copy()
        free[column] += 1
        return self._with_availability(free, self.market)

    def without(self, mentor_id: uuid.UUID) -> MentorPool:
        """This pool as if the mentor were not in the market: no slot, not counted in rarity."""
        column = self.position.get(mentor_id)
        if column is None:
            return self
        free, market = self.free_slots.copy(), self.market.copy()
        free[column], market[column] = 0, False
        return self._with_availability(free, market)

    def _with_availability(self, free_slots: IntArray, market: BoolArray) -> MentorPool:
        """A view with other free slots and market, sharing every encoded array (a cached pool
        serves each match without being rebuilt or changed)."""
        view = copy.copy(self)
        view.free_slots = free_slots
        view.market = market
        view.rarity = rarity(self.levels[market], self.config.strong_level)
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

"""Mentees and mentors as the matcher sees them, and the mentor pool: every mentor encoded as
arrays once, scored against any number of mentees, with the hard constraints. Pure: arrays
in, results out."""

from __future__ import annotations

import bisect
import copy
import dataclasses
import sys
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
from scipy import sparse

from .scoring import (
    COMPONENTS,
    FORBIDDEN,
    N_LEVELS,
    N_SKILLS,
    SKILL_INDEX,
    BoolArray,
    ComponentScores,
    FloatArray,
    IntArray,
    ScoringConfig,
    combine,
    default_config,
    fused_skill_table,
    hours_apart,
    one_hot_levels,
    quantize,
    rarity,
    rarity_of_counts,
    skill_components,
    skill_tables,
    teaches,
    teaching_table,
    timezone_overlap,
)

__all__ = [
    "SKILL_INDEX",
    "Mentee",
    "MenteeBlock",
    "Mentor",
    "MentorPool",
    "Scores",
    "free_slots",
    "skill_vector",
]


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


#: What `MentorPool._replaced` writes into when it works in place.
_WRITTEN_IN_PLACE = frozenset(
    {
        "mentors",
        "levels",
        "one_hot",
        "offsets",
        "was_engineer",
        "free_slots",
        "zone_of",
        "language_set_of",
        "features",
        "_feature_index",
        "_languages",
        "_industries",
        # Caches derived from the arrays above, written row by row too.
        "_strong",
        "_teaching_levels",
        "_set_columns",
    }
)


def _most_references(attributes: dict[str, Any], names: Collection[str]) -> int:
    """The highest reference count among the values of `names` in `attributes`."""
    return max(
        (sys.getrefcount(value) for name, value in attributes.items() if name in names),
        default=0,
    )


class MentorPool:
    """Mentors as arrays, built once and scored against any number of mentees.

    Every mentor is one row of `features`: the one-hot skill levels, then one indicator column
    per class a soft factor or hard constraint reads (was an engineer, each industry, each UTC
    offset, each set of languages). A block of mentees becomes one table of the same columns
    (`fused_tables`), and their scores against every mentor are one matrix product.

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
        rows = _EncodedRows.of(self.mentors)
        self.levels, self.one_hot = rows.levels, rows.one_hot
        self.offsets, self.was_engineer = rows.offsets, rows.was_engineer
        self.free_slots = rows.free_slots
        self.rarity = (
            market_rarity
            if market_rarity is not None
            else rarity(self.levels, self.config.strong_level)
        )
        self._languages = _Vocabulary([m.languages for m in self.mentors])
        self._industries = _Vocabulary([m.industries for m in self.mentors])
        #: The mentors `rarity` is measured on (all of them, unless a view says otherwise).
        self.market = np.ones(n, dtype=np.bool_)
        self._zones, self.zone_of = np.unique(self.offsets, return_inverse=True)
        language_sets: dict[frozenset[str], int] = {}
        self.language_set_of = np.array(
            [language_sets.setdefault(m.languages, len(language_sets)) for m in self.mentors],
            dtype=np.intp,
        )
        self._language_sets = _Vocabulary(list(language_sets))
        self.features = self._features()
        self._feature_index = _columns_set(self.features)

    def _features(self) -> FloatArray:
        n = len(self.mentors)
        industries = self._industries.matrix
        zones = np.zeros((n, len(self._zones)))
        zones[np.arange(n), self.zone_of] = 1.0
        languages = np.zeros((n, len(self._language_sets.matrix)))
        languages[np.arange(n), self.language_set_of] = 1.0
        columns = [self.one_hot, self.was_engineer[:, None], industries, zones, languages]
        return np.ascontiguousarray(np.hstack(columns))

    def __len__(self) -> int:
        return len(self.mentors)

    def changed(
        self, upserts: Sequence[Mentor], removed: Collection[uuid.UUID], *, sole_owner: bool = False
    ) -> MentorPool:
        """This pool with `upserts` added (or replacing the mentor of the same id) and
        `removed` left out, columns still in id order. Only the changed mentors are encoded;
        the rest are copied array rows. A language, industry or UTC offset new to the pool is
        a new feature column, and then the pool is built afresh.

        A new pool, and this one unchanged, unless the caller is the `sole_owner` of this pool
        object (nobody else keeps it, as the mentor directory keeps its own): then, when only
        profiles of mentors already in it changed and no view of it is alive (`_shared`),
        their rows are written in place and this pool is returned, sparing the copy of every
        array, which at 10,000 mentors costs more than the rest of a match."""
        same_mentors = not any(i in self.position for i in removed) and all(
            mentor.id in self.position for mentor in upserts
        )
        if same_mentors and self._knows_every_class_of(upserts):
            return self._replaced(upserts, in_place=sole_owner and not self._shared())
        replaced = {mentor.id for mentor in upserts}
        gone = [self.position[i] for i in {*removed, *replaced} if i in self.position]
        keep = np.ones(len(self), dtype=np.bool_)
        keep[gone] = False
        kept = np.flatnonzero(keep)
        added = sorted(upserts, key=lambda mentor: mentor.id)
        kept_mentors = [self.mentors[i] for i in kept.tolist()]
        if not self._knows_every_class_of(added):
            merged = sorted([*kept_mentors, *added], key=lambda mentor: mentor.id)
            rebuilt = MentorPool(merged, self.config)
            # A kept mentor's free slots are this pool's, not those it was first read with.
            columns = [rebuilt.position[mentor.id] for mentor in kept_mentors]
            rebuilt.free_slots[columns] = self.free_slots[kept]
            return rebuilt
        kept_ids = [mentor.id for mentor in kept_mentors]
        at = np.array([bisect.bisect_left(kept_ids, m.id) for m in added], dtype=np.intp)
        fresh = _EncodedRows.of(added)
        pool = copy.copy(self)

        def merge(mine: npt.NDArray[Any], theirs: npt.NDArray[Any]) -> npt.NDArray[Any]:
            merged: npt.NDArray[Any] = np.insert(mine[kept], at, theirs, axis=0)
            return merged

        pool.mentors = kept_mentors
        for i, mentor in zip((at + np.arange(at.size)).tolist(), added, strict=True):
            pool.mentors.insert(i, mentor)
        pool.ids = [mentor.id for mentor in pool.mentors]
        pool.position = {mentor_id: i for i, mentor_id in enumerate(pool.ids)}
        for name in ("levels", "one_hot", "offsets", "was_engineer", "free_slots"):
            setattr(pool, name, merge(getattr(self, name), getattr(fresh, name)))
        pool._forget_derived()
        pool.zone_of = merge(self.zone_of, np.searchsorted(self._zones, fresh.offsets))
        language_sets = self._language_sets.rows_of([m.languages for m in added])
        pool.language_set_of = merge(self.language_set_of, language_sets)
        pool._languages = self._languages.with_rows(
            merge(self._languages.matrix, self._languages.encode([m.languages for m in added]))
        )
        pool._industries = self._industries.with_rows(
            merge(self._industries.matrix, self._industries.encode([m.industries for m in added]))
        )
        pool.features = merge(self.features, pool._features_of(fresh, language_sets))
        pool._feature_index = _merged_index(
            self._feature_index[kept],
            _columns_set(pool._features_of(fresh, language_sets)),
            at,
            pool.features.shape[1],
        )
        pool.market = np.ones(len(pool.ids), dtype=np.bool_)
        pool.rarity = rarity(pool.levels, self.config.strong_level)
        return pool

    def _forget_derived(self) -> None:
        """Drop what is cached from the encoded arrays, once they changed."""
        for name in ("_teaching_levels", "_strong", "_set_columns", "_strong_counts"):
            self.__dict__.pop(name, None)

    def _shared(self) -> bool:
        """Whether anything besides this pool object refers to what `_replaced` writes: a
        view from `available`, `holding` or `without` (they share the encoded arrays), a numpy
        view of one (it refers to its base), anyone who kept one. CPython counts references:
        more than an object held by one dictionary alone has, counted the same way, says so."""
        alone = _most_references({"alone": object()}, {"alone"})
        return _most_references(self.__dict__, _WRITTEN_IN_PLACE) > alone

    def _replaced(self, mentors: Sequence[Mentor], *, in_place: bool = False) -> MentorPool:
        """`changed` when every mentor is already in the pool, under the same classes: the
        same columns, only their rows new; written into this pool's arrays with `in_place`,
        otherwise into copies (this pool left as it was).

        In place, the caches derived from the arrays (`_strong`, `_teaching_levels`,
        `_set_columns`, the strong counts behind `rarity`) get the same rows written instead
        of being dropped: rebuilding them from every mentor would fall on the next match."""
        mentors = list({mentor.id: mentor for mentor in mentors}.values())  # the last wins
        columns = np.array([self.position[mentor.id] for mentor in mentors], dtype=np.intp)
        fresh = _EncodedRows.of(mentors)
        language_sets = self._language_sets.rows_of([m.languages for m in mentors])
        # Counted before the rows are overwritten: a new array, as views keep the old one.
        strong_level = self.config.strong_level
        strong_counts = (
            self._strong_counts
            + (fresh.levels >= strong_level).sum(axis=0)
            - (self.levels[columns] >= strong_level).sum(axis=0)
        )
        pool = self if in_place else copy.copy(self)
        if not in_place:
            pool._forget_derived()
        pool.mentors = self.mentors if in_place else list(self.mentors)
        for column, mentor in zip(columns.tolist(), mentors, strict=True):
            pool.mentors[column] = mentor
        features = self._features_of(fresh, language_sets)
        rows: dict[str, npt.NDArray[Any]] = {
            "levels": fresh.levels,
            "one_hot": fresh.one_hot,
            "offsets": fresh.offsets,
            "was_engineer": fresh.was_engineer,
            "free_slots": fresh.free_slots,
            "zone_of": np.searchsorted(self._zones, fresh.offsets),
            "language_set_of": language_sets,
            "features": features,
        }
        for name, new_rows in rows.items():
            array = getattr(self, name) if in_place else getattr(self, name).copy()
            array[columns] = new_rows
            setattr(pool, name, array)
        index = _columns_set(features)
        width = max(index.shape[1], self._feature_index.shape[1])
        if not in_place or width > self._feature_index.shape[1]:
            pool._feature_index = _widened(self._feature_index, width, features.shape[1])
        pool._feature_index[columns] = _widened(index, width, features.shape[1])
        for name in ("_languages", "_industries"):
            vocabulary = getattr(self, name)
            matrix = vocabulary.matrix if in_place else vocabulary.matrix.copy()
            matrix[columns] = vocabulary.encode(
                [m.languages if name == "_languages" else m.industries for m in mentors]
            )
            setattr(pool, name, vocabulary.with_rows(matrix))
        if in_place:
            pool._write_derived_rows(columns, fresh)
        pool.__dict__["_strong_counts"] = strong_counts
        pool.rarity = rarity_of_counts(strong_counts, len(pool))
        return pool

    def _write_derived_rows(self, columns: IntArray, fresh: _EncodedRows) -> None:
        """The rows `columns` of each derived cache this pool holds, from the arrays already
        written; a cache whose shape no longer fits is dropped (built again when read)."""
        cached = self.__dict__
        if "_strong" in cached:
            self._strong[:, columns] = (fresh.levels >= self.config.strong_level).T
        if "_teaching_levels" in cached:
            self._teaching_levels[columns] = fresh.one_hot
        if "_set_columns" in cached:
            indices = self._set_columns.indices
            if indices.size == self._feature_index.size:
                indices.reshape(self._feature_index.shape)[columns] = self._feature_index[columns]
            else:  # the index grew wider
                del cached["_set_columns"]

    @cached_property
    def _strong_counts(self) -> npt.NDArray[np.int64]:
        """Per skill, the mentors of the pool strong in it (what `rarity` is made of)."""
        counts: npt.NDArray[np.int64] = (self.levels >= self.config.strong_level).sum(axis=0)
        return counts

    @cached_property
    def _set_columns(self) -> sparse.csr_matrix:
        """(mentors, features + 1) 1 at each column set in a mentor's feature row (and at the
        padding column after the last, where the mentee's side is 0): `_feature_index` as a
        sparse matrix. Its indices are a copy, never a view of `_feature_index`, which
        `_shared` would count as a reader."""
        rows, width = self._feature_index.shape
        return sparse.csr_matrix(
            (
                np.ones(rows * width),
                self._feature_index.ravel().astype(np.int32),
                np.arange(rows + 1, dtype=np.int32) * width,
            ),
            shape=(rows, self.features.shape[1] + 1),
        )

    @cached_property
    def _teaching_levels(self) -> npt.NDArray[np.float32]:
        """The one-hot levels in float32, for `teaching_table` products (blocks only)."""
        return self.one_hot.astype(np.float32)

    def _knows_every_class_of(self, mentors: Sequence[Mentor]) -> bool:
        zones = set(self._zones.tolist())
        return (
            all(m.utc_offset_hours in zones for m in mentors)
            and self._language_sets.knows_sets([m.languages for m in mentors])
            and self._languages.knows_codes([m.languages for m in mentors])
            and self._industries.knows_codes([m.industries for m in mentors])
        )

    def _features_of(self, others: _EncodedRows, language_sets: IntArray) -> FloatArray:
        """Feature rows of `others`' mentors in this pool's columns."""
        n = len(others)
        zones = np.zeros((n, len(self._zones)))
        zones[np.arange(n), np.searchsorted(self._zones, others.offsets)] = 1.0
        languages = np.zeros((n, len(self._language_sets.matrix)))
        languages[np.arange(n), language_sets] = 1.0
        industries = self._industries.encode([m.industries for m in others.mentors])
        columns = [others.one_hot, others.was_engineer[:, None], industries, zones, languages]
        return np.hstack(columns)

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
        # Built on this pool before the copy, so that every view shares it.
        _ = self._set_columns
        view = copy.copy(self)
        view.free_slots = free_slots
        view.market = market
        # Strong mentors per skill in the market, counted without BLAS: a BLAS product here
        # would wake a second thread for a few microseconds of work, and on a small machine
        # that thread spins on the core the database needs for the next round trip.
        in_market = int(np.count_nonzero(market))
        if in_market:
            strong = np.count_nonzero(self._strong & market, axis=1)
            view.rarity = rarity_of_counts(strong, in_market)
        else:
            view.rarity = np.ones(N_SKILLS)
        return view

    @cached_property
    def _strong(self) -> BoolArray:
        """(skills, mentors) whether the mentor is strong in the skill: one row a skill, so
        counting a market's strong mentors runs along contiguous memory."""
        return np.ascontiguousarray((self.levels >= self.config.strong_level).T)

    def speaks(self, languages: Collection[str]) -> BoolArray:
        """Per mentor: shares one of `languages` (decided once per set of languages)."""
        speaks: BoolArray = self._language_sets.shared([languages])[0][self.language_set_of]
        return speaks

    def evaluate(
        self,
        mentees: Sequence[Mentee],
        excluded: Sequence[Collection[uuid.UUID]] | None = None,
    ) -> tuple[Scores, BoolArray]:
        """Scores and hard constraints together."""
        return self.score(mentees), self.eligible(mentees, excluded)

    def score(self, mentees: Sequence[Mentee]) -> Scores:
        """The total of each mentee (rows) against every mentor (columns), 0 where the mentor
        can teach nothing of the gap, with each pair's components on demand."""
        block = MenteeBlock(mentees, self.config)
        values = self.fused_tables(block, forbid=False) @ self.features.T
        taught = (
            teaching_table(block.current, block.target, block.roles) @ self._teaching_levels.T
        ) > 0
        total = np.where(taught, np.maximum(values, 0.0), 0.0)
        return Scores(total=total, pool=self, block=block)

    def ranking_values(self, block: MenteeBlock) -> FloatArray:
        """(b, n) the fused product: each pair's total where no hard constraint of the mentee's
        forbids the pair (shared language, timezone limit), far below 0 where one does. Free
        slots, exclusions and the rule that a mentor who teaches nothing scores 0 are left to
        the caller, who applies them to the few pairs that matter."""
        table = self.fused_tables(block, forbid=True)
        if len(block) == 1:
            # One mentee: the sum over each mentor's few set columns, the same exact sums as
            # the product (`quantize`), as a sparse product: a third of a numpy gather-and-sum,
            # and no BLAS threads woken for a product this small.
            one: FloatArray = (self._set_columns @ np.append(table[0], 0.0))[None, :]
            return one
        values: FloatArray = table @ self.features.T
        return values

    def fused_tables(self, block: MenteeBlock, *, forbid: bool) -> FloatArray:
        """(b, features) the mentees' side of the product (`scoring.fused_skill_table` and the
        soft factors by class); with `forbid`, FORBIDDEN where a hard constraint rules out the
        class for the mentee."""
        w = self.config.weights
        n_industries = len(self._industries.codes)
        n_zones = len(self._zones)
        table = np.empty((len(block), self.features.shape[1]))
        table[:, : N_SKILLS * N_LEVELS] = fused_skill_table(
            block.skill_components(self.rarity, self.config.strong_level), self.config
        )
        at = N_SKILLS * N_LEVELS
        table[:, at] = w["was_engineer"]
        wanted = self._industries.encode(block.industries)
        table[:, at + 1 : at + 1 + n_industries] = w["industry"] * wanted / block.industry_counts
        at += 1 + n_industries
        apart = hours_apart(block.offsets[:, None], self._zones[None, :])
        overlap = timezone_overlap(apart, self.config.working_hours)
        table[:, at : at + n_zones] = w["timezone"] * overlap
        table[:, at + n_zones :] = 0.0
        table = quantize(table)
        if forbid:
            table[:, at : at + n_zones] += np.where(apart > block.limits[:, None], FORBIDDEN, 0.0)
            shared = self._language_sets.shared(block.languages)
            table[:, at + n_zones :] = np.where(shared, 0.0, FORBIDDEN)
        return table

    def pair_components(
        self, mentees: Sequence[Mentee], rows: IntArray, columns: IntArray
    ) -> ComponentScores:
        """Every component of the pairs (mentees[rows[i]], column columns[i]), as 1-d arrays,
        computed for those pairs only. `total` is the fused total, as in `score`."""
        block = MenteeBlock(mentees, self.config)
        components = self.components_of(block, self.component_tables(block), rows, columns)
        # The same exact sum the product makes, so the same bits as `score` gives the pair.
        fused = (self.fused_tables(block, forbid=False)[rows] * self.features[columns]).sum(axis=1)
        taught = teaches(
            block.current[rows], block.target[rows], block.roles[rows], self.levels[columns]
        )
        return dataclasses.replace(components, total=np.where(taught, np.maximum(fused, 0.0), 0.0))

    def component_tables(self, block: MenteeBlock) -> FloatArray:
        """(4, skill * level, b) the skill components' tables of a block of mentees."""
        return skill_tables(block.skill_components(self.rarity, self.config.strong_level))

    def components_of(
        self, block: MenteeBlock, tables: FloatArray, rows: IntArray, columns: IntArray
    ) -> ComponentScores:
        """The components of pairs (block row, pool column) from the block's tables; `total`
        is their weighted sum as `combine` makes it."""
        skill_parts = np.einsum("pf,cfp->cp", self.one_hot[columns], tables[:, :, rows])
        wanted = self._industries.encode([block.industries[row] for row in rows.tolist()])
        shared = (wanted * self._industries.matrix[columns]).sum(axis=1)
        counts = block.industry_counts[rows, 0]
        industry = np.where(np.isfinite(counts), shared / counts, 0.0)
        apart = hours_apart(block.offsets[rows], self.offsets[columns])
        return combine(
            skill_parts,
            self.was_engineer[columns],
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
    ) -> BoolArray:
        """Hard constraints, (mentees, mentors): a shared language, a free slot, within the
        mentee's timezone limit, not the mentee themself, not a pair excluded before."""
        block = MenteeBlock(mentees, self.config)
        allowed = self.allowed_by_class(block)
        allowed &= self.free_slots[None, :] > 0
        for row, mentee in enumerate(mentees):
            blocked = [mentee.id, *(excluded[row] if excluded is not None else ())]
            columns = [self.position[i] for i in blocked if i in self.position]
            allowed[row, columns] = False
        return allowed

    def allowed_by_class(self, block: MenteeBlock) -> BoolArray:
        """(b, n) a shared language and within the mentee's timezone limit."""
        shared = self._language_sets.shared(block.languages)  # (b, language sets)
        apart = hours_apart(block.offsets[:, None], self._zones[None, :])
        within = apart <= block.limits[:, None]  # (b, zones)
        allowed: BoolArray = shared[:, self.language_set_of] & within[:, self.zone_of]
        return allowed

    def excluded_columns(
        self, mentees: Sequence[Mentee], excluded: Sequence[Collection[uuid.UUID]] | None
    ) -> tuple[IntArray, IntArray]:
        """(rows, columns) of the pairs never to propose: each mentee with themself, and with
        the mentors in `excluded`."""
        rows: list[int] = []
        columns: list[int] = []
        for row, mentee in enumerate(mentees):
            for mentor_id in (mentee.id, *(excluded[row] if excluded is not None else ())):
                column = self.position.get(mentor_id)
                if column is not None:
                    rows.append(row)
                    columns.append(column)
        return np.array(rows, dtype=np.intp), np.array(columns, dtype=np.intp)


def _widened(index: IntArray, width: int, pad: int) -> IntArray:
    """A column index padded (with `pad`, the column a gather reads 0 from) to `width`."""
    widened = np.full((index.shape[0], width), pad, dtype=np.intp)
    widened[:, : index.shape[1]] = index
    return widened


def _merged_index(kept: IntArray, added: IntArray, at: IntArray, pad: int) -> IntArray:
    """Column indexes of kept rows with the added rows inserted before positions `at`."""
    width = max(kept.shape[1], added.shape[1])
    merged: IntArray = np.insert(
        _widened(kept, width, pad), at, _widened(added, width, pad), axis=0
    )
    return merged


def _columns_set(features: FloatArray) -> IntArray:
    """(mentors, most columns set in a row) the columns each feature row has set, padded with
    the column after the last (where a gather finds 0)."""
    rows, columns = np.nonzero(features)
    per_row = np.bincount(rows, minlength=features.shape[0])
    index = np.full((features.shape[0], int(per_row.max(initial=0))), features.shape[1])
    index[rows, np.arange(rows.size) - np.searchsorted(rows, rows)] = columns
    return index


@dataclass(frozen=True, eq=False)
class _EncodedRows:
    """Mentors' rows of the pool arrays that depend on nobody else (not on the columns)."""

    mentors: Sequence[Mentor]
    levels: npt.NDArray[np.int8]
    one_hot: FloatArray
    offsets: FloatArray
    was_engineer: FloatArray
    free_slots: IntArray

    @classmethod
    def of(cls, mentors: Sequence[Mentor]) -> _EncodedRows:
        levels = np.zeros((len(mentors), N_SKILLS), dtype=np.int8)
        if mentors:
            strengths = np.vstack([m.strengths for m in mentors])
            levels = np.clip(np.rint(strengths), 0, 5).astype(np.int8)
        return cls(
            mentors=mentors,
            levels=levels,
            one_hot=one_hot_levels(levels),
            offsets=np.array([m.utc_offset_hours for m in mentors], dtype=np.float64),
            was_engineer=np.array([m.was_engineer for m in mentors], dtype=np.float64),
            free_slots=np.array([m.free_slots for m in mentors], dtype=np.intp),
        )

    def __len__(self) -> int:
        return len(self.mentors)


class MenteeBlock:
    """A block of mentees as the arrays the scoring reads."""

    def __init__(self, mentees: Sequence[Mentee], config: ScoringConfig) -> None:
        self.mentees = mentees
        b = len(mentees)
        if b:
            self.current = np.array([m.current for m in mentees], dtype=np.float64)
            self.target = np.array([m.target for m in mentees], dtype=np.float64)
            self.roles = np.array(
                [config.role_for(m.target_role).weights for m in mentees], dtype=np.float64
            )
        else:
            self.current = self.target = self.roles = np.zeros((0, N_SKILLS))
        self.offsets = np.array([m.utc_offset_hours for m in mentees], dtype=np.float64)
        self.limits = np.array(
            [
                np.inf
                if m.max_timezone_difference_hours is None
                else m.max_timezone_difference_hours
                for m in mentees
            ],
            dtype=np.float64,
        )
        self.languages = [m.languages for m in mentees]
        self.industries = [m.industries for m in mentees]
        # The share of all the mentee's industries, not only of those some mentor lists, so a
        # mentor's score does not depend on who else is in the pool.
        counts = np.array([float(len(m.industries)) for m in mentees]).reshape(-1, 1)
        self.industry_counts = np.where(counts > 0, counts, np.inf)
        self._components: tuple[FloatArray, int, FloatArray] | None = None

    def __len__(self) -> int:
        return len(self.mentees)

    def skill_components(self, market_rarity: FloatArray, strong_level: int) -> FloatArray:
        """`scoring.skill_components` of the block in a market, kept for the last market
        asked about: a match reads them twice, for the ranking's fused table and for the
        chosen pair's explanation."""
        kept = self._components
        if kept is None or kept[0] is not market_rarity or kept[1] != strong_level:
            components = skill_components(
                self.current, self.target, self.roles, market_rarity, strong_level
            )
            kept = self._components = (market_rarity, strong_level, components)
        return kept[2]


@dataclass(frozen=True, eq=False)
class Scores:
    """Totals of a block of mentees (rows) against every mentor (columns), and the components
    of any pair, computed when asked for (a proposal's breakdown)."""

    total: FloatArray
    pool: MentorPool
    block: MenteeBlock

    def breakdown(self, row: int, column: int) -> dict[str, float]:
        parts = self.pool.components_of(
            self.block, self._tables, np.array([row]), np.array([column])
        )
        return parts.breakdown(0)

    @cached_property
    def _tables(self) -> FloatArray:
        return self.pool.component_tables(self.block)

    @cached_property
    def components(self) -> ComponentScores:
        """Every component of every pair (for a small block: it is b x n work per component)."""
        b, n = self.total.shape
        rows = np.repeat(np.arange(b), n)
        columns = np.tile(np.arange(n), b)
        parts = self.pool.pair_components(self.block.mentees, rows, columns)
        return ComponentScores(
            *(getattr(parts, name).reshape(b, n) for name in (*COMPONENTS, "total"))
        )

    @property
    def similarity(self) -> FloatArray:
        return self.components.similarity

    @property
    def coverage(self) -> FloatArray:
        return self.components.coverage

    @property
    def scarcity(self) -> FloatArray:
        return self.components.scarcity

    @property
    def was_engineer(self) -> FloatArray:
        return self.components.was_engineer

    @property
    def industry(self) -> FloatArray:
        return self.components.industry

    @property
    def timezone(self) -> FloatArray:
        return self.components.timezone


class _Vocabulary:
    """Sets of codes (languages, industries) as an indicator matrix over the codes in use."""

    def __init__(self, sets: Sequence[frozenset[str]]) -> None:
        self.codes = {code: i for i, code in enumerate(sorted(set().union(*sets)))}
        # Rows of the sets seen so far, by set: people share a few sets, so encoding a block
        # of mentees is dictionary look-ups rather than a loop over each person's codes.
        self._rows: dict[frozenset[str], int] = {}
        self._known = np.zeros((0, len(self.codes)))
        self.matrix = self.encode(sets)
        self._by_set: dict[frozenset[str], int] | None = None

    def encode(self, sets: Sequence[Collection[str]]) -> FloatArray:
        rows = [self._row(frozenset(codes)) for codes in sets]
        encoded: FloatArray = self._known[rows] if rows else np.zeros((0, len(self.codes)))
        return encoded

    def _row(self, codes: frozenset[str]) -> int:
        row = self._rows.get(codes)
        if row is None:
            vector = np.zeros((1, len(self.codes)))
            vector[0, [self.codes[c] for c in codes if c in self.codes]] = 1.0
            self._known = np.vstack([self._known, vector])
            row = self._rows[codes] = len(self._known) - 1
        return row

    def shared(self, mentees_sets: Sequence[Collection[str]]) -> BoolArray:
        result: BoolArray = (self.encode(mentees_sets) @ self.matrix.T) > 0
        return result

    def knows_codes(self, sets: Sequence[Collection[str]]) -> bool:
        return all(code in self.codes for codes in sets for code in codes)

    def knows_sets(self, sets: Sequence[frozenset[str]]) -> bool:
        """Every set is one of the sets this vocabulary was built from (a row of `matrix`)."""
        known = self._sets_as_rows()
        return all(codes in known for codes in sets)

    def rows_of(self, sets: Sequence[frozenset[str]]) -> IntArray:
        """The row of `matrix` each set is (sets this vocabulary was built from)."""
        known = self._sets_as_rows()
        return np.array([known[codes] for codes in sets], dtype=np.intp)

    def with_rows(self, matrix: FloatArray) -> _Vocabulary:
        """The same codes, with another matrix of rows (another list of sets)."""
        vocabulary = copy.copy(self)
        vocabulary.matrix = matrix
        vocabulary._by_set = None
        return vocabulary

    def _sets_as_rows(self) -> dict[frozenset[str], int]:
        """The row of each set in `matrix`, read once (a matrix written in place comes with a
        new vocabulary, `with_rows`)."""
        if self._by_set is None:
            codes = list(self.codes)
            self._by_set = {
                frozenset(codes[j] for j in np.flatnonzero(row)): i
                for i, row in enumerate(self.matrix)
            }
        return self._by_set

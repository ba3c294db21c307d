"""Ranking mentors for mentees: one mentee's proposals best first, shortlists for many, and
the exposure rule that keeps one star mentor from topping every list. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .explain import covered_gaps, explain
from .pool import Mentee, MenteeBlock, MentorPool, Scores
from .scoring import (
    ALGORITHM_VERSION,
    FORBIDDEN,
    BoolArray,
    FloatArray,
    IntArray,
    default_config,
    teaches,
)


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


# --- one mentee ----------------------------------------------------------------------------

#: How many of the best mentors an online ranking sorts first; the rest only when asked for.
_FIRST_SORTED = 16


def iter_proposals(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = ()
) -> Iterator[Proposal]:
    """Eligible mentors who can teach part of the gap, best first (ties: the lower column),
    each with its explanation (built only when the caller asks for the next one)."""
    if not len(pool):
        return
    block = MenteeBlock([mentee], pool.config)
    values = pool.ranking_values(block)[0]
    values[pool.free_slots <= 0] = -np.inf
    values[pool.excluded_columns([mentee], [excluded])[1]] = -np.inf
    scores = Scores(total=values[None, :], pool=pool, block=block)
    for columns in _best_first(values, np.flatnonzero(values > 0.0)):
        taught = teaches(block.current, block.target, block.roles, pool.levels[columns])
        for column in columns[taught].tolist():
            yield proposal_for(mentee, pool, scores, 0, column)


def _best_first(values: FloatArray, candidates: IntArray) -> Iterator[IntArray]:
    """`candidates` by value, best first, ties by lower index: the best few sorted first, the
    rest only if the caller goes on."""
    if candidates.size > 2 * _FIRST_SORTED:
        ranked = values[candidates]
        threshold = np.partition(ranked, ranked.size - _FIRST_SORTED)[ranked.size - _FIRST_SORTED]
        first = ranked >= threshold
        yield _by_value(values, candidates[first])
        candidates = candidates[~first]
    yield _by_value(values, candidates)


def _by_value(values: FloatArray, columns: IntArray) -> IntArray:
    ordered: IntArray = columns[np.lexsort((columns, -values[columns]))]
    return ordered


def rank_mentors(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = (), limit: int | None = None
) -> list[Proposal]:
    proposals = []
    for proposal in iter_proposals(mentee, pool, excluded):
        proposals.append(proposal)
        if limit is not None and len(proposals) >= limit:
            break
    return proposals


class PairScores(Protocol):
    """What a proposal reads of a block's scores: a pair's total and its components."""

    @property
    def total(self) -> FloatArray: ...

    def breakdown(self, row: int, column: int) -> dict[str, float]: ...


def proposal_for(
    mentee: Mentee, pool: MentorPool, scores: PairScores, row: int, column: int
) -> Proposal:
    return _proposal(
        mentee, pool, column, float(scores.total[row, column]), scores.breakdown(row, column)
    )


def proposals_for(
    mentees: Sequence[Mentee], pool: MentorPool, rows: IntArray, columns: IntArray
) -> list[Proposal]:
    """The proposals of many pairs (mentees[rows[i]], pool column columns[i]) at once: their
    components are computed for those pairs only, in one pass."""
    if not len(rows):
        return []
    parts = pool.pair_components(mentees, rows, columns)
    return [
        _proposal(mentees[row], pool, column, float(parts.total[i]), parts.breakdown(i))
        for i, (row, column) in enumerate(zip(rows.tolist(), columns.tolist(), strict=True))
    ]


def _proposal(
    mentee: Mentee, pool: MentorPool, column: int, score: float, breakdown: dict[str, float]
) -> Proposal:
    mentor = pool.mentors[column]
    covered, uncovered = covered_gaps(mentee, mentor, pool.role_weights(mentee))
    return Proposal(
        mentor_id=mentor.id,
        score=round(min(score, 1.0), 4),
        breakdown=breakdown,
        covered_skills=covered,
        uncovered_skills=uncovered,
        explanation=explain(mentee, mentor, covered, uncovered, pool.config.working_hours),
        weights_version=pool.config.version,
    )


# --- shortlists and the exposure rule ------------------------------------------------------

#: Mentors ranked per shortlist place, so that those at their exposure limit can be skipped.
SHORTLIST_DEPTH = 4


def exposure_limit(free_slots: IntArray, per_slot: int) -> IntArray:
    """The exposure rule: a mentor appears on at most `per_slot` shortlists per free slot. With
    scarce capacity one star mentor then cannot top every list, and later mentees see the next
    best instead."""
    limit: IntArray = free_slots * per_slot
    return limit


def shortlist(
    ranked: Sequence[Proposal],
    pool: MentorPool,
    exposure: Mapping[uuid.UUID, tuple[int, bool]],
    limit: int,
    per_slot: int,
) -> list[Proposal]:
    """Up to `limit` of one mentee's `ranked` proposals (best first) under the exposure rule.

    `exposure` says, per mentor, on how many other mentees' shortlists they are and whether
    this mentee saw them already: a mentee keeps seeing whom they saw recently."""
    shown: list[Proposal] = []
    caps = exposure_limit(pool.free_slots, per_slot)
    for proposal in ranked:
        if len(shown) == limit:
            break
        others, already_seen = exposure.get(proposal.mentor_id, (0, False))
        if already_seen or others < caps[pool.position[proposal.mentor_id]]:
            shown.append(proposal)
    return shown


# --- many mentees at once ------------------------------------------------------------------


@dataclass(frozen=True)
class Shortlists:
    """Per mentee, up to k mentor positions in the pool (best first; -1 pads) and scores."""

    mentors: IntArray
    scores: FloatArray


#: Mentors per group when the best of a row are found by group maxima (`best_per_row`).
_GROUP = 32


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
    """Top-k eligible mentors for each mentee under the exposure rule (`exposure_limit`),
    counting the shortlists in `exposure`, which is updated in place. Mentees are served in
    order: each takes the best k mentors still below their limit when their turn comes.

    Scored a block at a time against the mentors who still have exposure left (one product);
    the order of service is settled for the whole block at once (`_serve_in_order`)."""
    n = len(mentees)
    seen = exposure if exposure is not None else np.zeros(len(pool), dtype=np.intp)
    result = np.full((n, k), -1, dtype=np.intp)
    result_scores = np.zeros((n, k))
    if k == 0 or not len(pool):
        return Shortlists(mentors=result, scores=result_scores)
    open_mentors = _OpenMentors(pool, exposure_limit(pool.free_slots, exposure_per_slot) - seen)
    depth = 2 * k + 6
    for start in range(0, n, block):
        if not open_mentors.any():
            break  # exposure only grows: every later mentee's list stays empty
        batch = mentees[start : start + block]
        mentee_block = MenteeBlock(batch, pool.config)
        values = open_mentors.values(pool.fused_tables(mentee_block, forbid=True))
        rows, columns = pool.excluded_columns(
            batch, excluded[start : start + block] if excluded is not None else None
        )
        at = open_mentors.at[columns]
        values[rows[at >= 0], at[at >= 0]] = -np.inf

        def candidates(
            rows: IntArray,
            after: tuple[FloatArray, IntArray] | None,
            values: FloatArray = values,
            mentee_block: MenteeBlock = mentee_block,
        ) -> _Candidates:
            found = best_per_row(values, rows, depth, after)
            mentor_levels = pool.levels[open_mentors.columns[found.columns]]
            found.usable &= teaches(
                mentee_block.current[found.rows],
                mentee_block.target[found.rows],
                mentee_block.roles[found.rows],
                mentor_levels,
            )
            return found

        taken_rows, taken_columns, taken_values = _serve_in_order(
            len(batch), k, open_mentors.room, candidates
        )
        open_mentors.take(taken_columns)
        columns_in_pool = open_mentors.columns[taken_columns]
        np.add.at(seen, columns_in_pool, 1)
        # Each row's picks, best first: the serving kept them in each row's ranking order.
        place = np.arange(taken_rows.size) - np.searchsorted(taken_rows, taken_rows)
        result[start + taken_rows, place] = columns_in_pool
        result_scores[start + taken_rows, place] = taken_values
        open_mentors.compact_if_worth_it()
    return Shortlists(mentors=result, scores=result_scores)


class _OpenMentors:
    """The mentors with exposure left, as a private copy of their feature rows plus one column
    that closes a mentor (FORBIDDEN for everyone) as soon as their exposure is used up; padded
    with empty rows to whole groups of `_GROUP`."""

    def __init__(self, pool: MentorPool, room: IntArray) -> None:
        self._pool = pool
        self._room_by_pool_column = np.where(pool.free_slots > 0, room, 0)
        self.columns: IntArray = np.zeros(0, dtype=np.intp)
        self.room: IntArray = np.zeros(0, dtype=np.intp)
        self._compact()

    def _compact(self) -> None:
        pool = self._pool
        self._room_by_pool_column[self.columns] = self.room[: self.columns.size]
        self.columns = np.flatnonzero(self._room_by_pool_column > 0)
        width = -(-self.columns.size // _GROUP) * _GROUP
        n_features = pool.features.shape[1]
        self.features = np.zeros((width, n_features + 1))
        self.features[: self.columns.size, :n_features] = pool.features[self.columns]
        self.room = np.zeros(width, dtype=np.intp)
        self.room[: self.columns.size] = self._room_by_pool_column[self.columns]
        self.at = np.full(len(pool) + 1, -1, dtype=np.intp)  # pool column -> position, or -1
        self.at[self.columns] = np.arange(self.columns.size)
        self.closed = 0

    def any(self) -> bool:
        return bool(self.room.any())

    def values(self, table: FloatArray) -> FloatArray:
        closing = np.full((table.shape[0], 1), FORBIDDEN)
        values: FloatArray = np.hstack([table, closing]) @ self.features.T
        return values

    def take(self, positions: IntArray) -> None:
        np.subtract.at(self.room, positions, 1)
        used_up = positions[self.room[positions] == 0]
        if used_up.size:
            used_up = np.unique(used_up)
            self.features[used_up, -1] = 1.0
            self.closed += used_up.size

    def compact_if_worth_it(self) -> None:
        # Closed mentors still cost their share of the product: drop them once they are a
        # quarter of the columns.
        if self.closed * 4 > self.columns.size:
            self._compact()


@dataclass(eq=False)
class _Candidates:
    """Some rows' best columns, sorted by (row, value descending, column); `usable` marks those
    the mentee may be shown; `last` is each searched row's last value and column (where a
    further search goes on) and `complete` whether the row has no positive value beyond."""

    rows: IntArray
    columns: IntArray
    values: FloatArray
    usable: BoolArray
    searched: IntArray
    last_value: FloatArray
    last_column: IntArray
    complete: BoolArray


def best_per_row(
    values: FloatArray,
    rows: IntArray,
    depth: int,
    after: tuple[FloatArray, IntArray] | None = None,
) -> _Candidates:
    """For each of `rows`, its `depth` best positive values (fewer if it has fewer), best first
    (ties: lower column), strictly after (value, column) `after[i]` in that order if given.

    `values` has a multiple of `_GROUP` columns. Column j is in group j mod (columns / _GROUP);
    a row's depth-th best group maximum bounds its depth-th best value from below, so only the
    groups reaching it are read again: one pass over the row, not a sort."""
    # Every row at first: the block itself, not a copy of it.
    sub = values if rows.size == values.shape[0] and after is None else values[rows]
    if after is not None:
        last_value, last_column = after
        beyond = (sub > last_value[:, None]) | (
            (sub == last_value[:, None]) & (np.arange(sub.shape[1]) <= last_column[:, None])
        )
        sub[beyond] = -np.inf
    r, width = sub.shape
    groups = width // _GROUP
    grouped = sub.reshape(r, _GROUP, groups)
    maxima = grouped.max(axis=1)  # (r, groups)
    if groups > depth:
        bound = np.partition(maxima, groups - depth, axis=1)[:, groups - depth]
    else:
        bound = np.full(r, -np.inf)
    floor = np.maximum(bound, np.nextafter(0.0, 1.0))  # only positive values count
    group_row, group = np.nonzero(maxima >= floor[:, None])
    # The members of each group reached, by flat index (much faster than mixed indexing).
    flat = (group_row * width + group)[:, None] + np.arange(_GROUP) * groups
    members = np.take(sub, flat)  # (found groups, _GROUP)
    hit, member = np.nonzero(members >= floor[group_row, None])
    found_row = group_row[hit]
    found_column = member * groups + group[hit]
    found_value = members[hit, member]
    order = np.lexsort((found_column, -found_value, found_row))
    found_row, found_column, found_value = (
        found_row[order],
        found_column[order],
        found_value[order],
    )
    place = np.arange(found_row.size) - np.searchsorted(found_row, found_row)
    kept = place < depth
    complete = (bound <= 0.0) & (np.bincount(found_row, minlength=r) <= depth)
    found_row, found_column, found_value = found_row[kept], found_column[kept], found_value[kept]
    per_row = np.bincount(found_row, minlength=r)
    last = np.maximum(np.cumsum(per_row) - 1, 0)
    has_any = per_row > 0
    padded_value = np.append(found_value, np.inf)
    padded_column = np.append(found_column, -1)
    return _Candidates(
        rows=rows[found_row],
        columns=found_column,
        values=found_value,
        usable=np.ones(found_row.size, dtype=np.bool_),
        searched=rows,
        last_value=np.where(has_any, padded_value[last], np.inf),
        last_column=np.where(has_any, padded_column[last], -1),
        complete=complete,
    )


def _serve_in_order(
    n_rows: int,
    k: int,
    room: IntArray,
    candidates: Callable[[IntArray, tuple[FloatArray, IntArray] | None], _Candidates],
) -> tuple[IntArray, IntArray, FloatArray]:
    """Rows take up to k columns each, in row order, each column at most room[column] times:
    row 0 its k best, row 1 its k best of what is left, and so on. Returns the (row, column,
    value) taken, sorted by row and, within a row, best first.

    Rows are not served one by one. Every row asks for its best columns at once; a column asked
    for by more rows than it has room keeps the first rows and turns the others away, who ask
    for their next best, and so on until nobody is turned away (deferred acceptance: with every
    column preferring earlier rows, its outcome is exactly the one-by-one order). A row's list
    grows (`candidates`) only when it has used every column found for it."""
    rows_found = np.arange(n_rows, dtype=np.intp)
    found = candidates(rows_found, None)
    list_row, list_column, list_value = (
        found.rows[found.usable],
        found.columns[found.usable],
        found.values[found.usable],
    )
    last_value = found.last_value.copy()
    last_column = found.last_column.copy()
    complete = found.complete.copy()
    asked = np.zeros(n_rows, dtype=np.intp)  # how many of its list each row has asked for
    held = np.zeros(0, dtype=np.intp)  # positions in the lists of the requests held
    while True:
        per_row = np.bincount(list_row, minlength=n_rows)
        need = k - np.bincount(list_row[held], minlength=n_rows)
        short = np.flatnonzero((need > per_row - asked) & ~complete)
        if short.size:
            more = candidates(short, (last_value[short], last_column[short]))
            last_value[short] = more.last_value
            last_column[short] = more.last_column
            complete[short] = more.complete
            # Appended, then stably sorted by row: each row's list keeps its order.
            list_row = np.concatenate([list_row, more.rows[more.usable]])
            list_column = np.concatenate([list_column, more.columns[more.usable]])
            list_value = np.concatenate([list_value, more.values[more.usable]])
            order = np.argsort(list_row, kind="stable")
            list_row, list_column, list_value = (
                list_row[order],
                list_column[order],
                list_value[order],
            )
            held = np.flatnonzero(np.isin(order, held))
            continue
        give = np.minimum(need, per_row - asked)
        if not give.any():
            break
        start = np.searchsorted(list_row, np.arange(n_rows)) + asked
        asking = np.flatnonzero(give > 0)
        counts = give[asking]
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        requests = np.repeat(start[asking], counts) + offsets
        asked += give
        pending = np.concatenate([held, requests])
        order = np.lexsort((list_row[pending], list_column[pending]))
        pending = pending[order]
        column = list_column[pending]
        rank = np.arange(pending.size) - np.searchsorted(column, column)
        held = np.sort(pending[rank < room[column]])
    return list_row[held], list_column[held], list_value[held]

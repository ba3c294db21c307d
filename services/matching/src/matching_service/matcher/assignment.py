"""Cohort assignment: every waiting mentee gets at most one mentor, maximising the total score.

Pure functions on numpy arrays, no I/O. A round is solved as a minimum-cost flow (OR-Tools):
source -> each mentee (capacity 1) -> each candidate mentor (capacity 1, cost -score) -> sink
(capacity: the mentor's free slots), with an arc straight from source to sink so that leaving
a mentee unmatched is a legal choice. Mentor capacities are arc capacities: no mentor is
expanded into slot columns. Costs are integers: scores in units of 2**-40, which the scoring
kernel's totals are exact multiples of, so the flow's optimum is the optimum of the scores.

A large round is solved on a sparse candidate graph (each mentee's best mentors and each
mentor's best mentees, `round_candidates`), then proven optimal over EVERY allowed pair by
reduced costs (`optimal_round`): the flow's dual prices (a price per mentor, a surplus per
mentee, `dual_prices`) bound what any pair outside the graph could add, and only the pairs
whose bounds allow a gain are scored again; those that would gain join the graph and the
flow is solved again. The candidate lists' cut-off values make that check small.

`assign_dense` is scipy's exact dense solution on slot-expanded columns: the reference the
solver is checked against on cohorts small enough for it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from .pool import Mentee, MenteeBlock, MentorPool
from .ranking import best_per_row
from .scoring import FORBIDDEN, BoolArray, FloatArray, IntArray, teaches

UNMATCHED = -1
#: Scores are costs in units of 2**-40 (the kernel's totals are exact multiples of it).
_SCORE_UNIT = 2.0**40
#: Columns per group in `ranking.best_per_row`.
_GROUP = 32
# Rows of a dense score matrix handled at once by `top_k`, to bound its temporaries.
_TOP_K_BLOCK_CELLS = 1 << 22


def _frozen(values: npt.ArrayLike, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    array = np.array(values, dtype=dtype)  # a copy: the caller's array stays writable
    array.setflags(write=False)
    return array


# eq=False: the generated == would compare arrays, whose truth value is ambiguous.
@dataclass(frozen=True, eq=False)
class CandidateGraph:
    """Allowed (mentee, mentor) pairs with their scores, as parallel edge arrays.

    Edges are stored sorted by (mentee, mentor) and read-only; duplicates are rejected.
    """

    n_mentees: int
    n_mentors: int
    mentee: IntArray
    mentor: IntArray
    score: FloatArray

    def __post_init__(self) -> None:
        mentee = np.asarray(self.mentee)
        mentor = np.asarray(self.mentor)
        score = np.asarray(self.score, dtype=np.float64)
        if self.n_mentees < 0 or self.n_mentors < 0:
            raise ValueError("n_mentees and n_mentors must not be negative")
        if not (mentee.ndim == mentor.ndim == score.ndim == 1):
            raise ValueError("edge arrays must be one-dimensional")
        if not (mentee.shape == mentor.shape == score.shape):
            raise ValueError("edge arrays must have the same length")
        if mentee.size and not (
            np.issubdtype(mentee.dtype, np.integer) and np.issubdtype(mentor.dtype, np.integer)
        ):
            raise ValueError("mentee and mentor indices must be integers")
        if mentee.size and (
            mentee.min() < 0
            or mentee.max() >= self.n_mentees
            or mentor.min() < 0
            or mentor.max() >= self.n_mentors
        ):
            raise ValueError("edge index out of range")
        if not np.all((score > 0.0) & (score <= 1.0)):  # also rejects NaN
            raise ValueError("edge scores must lie in (0, 1]")
        order = np.lexsort((mentor, mentee))
        mentee, mentor, score = mentee[order], mentor[order], score[order]
        if mentee.size > 1 and np.any((mentee[1:] == mentee[:-1]) & (mentor[1:] == mentor[:-1])):
            raise ValueError("duplicate (mentee, mentor) edge")
        object.__setattr__(self, "mentee", _frozen(mentee, np.intp))
        object.__setattr__(self, "mentor", _frozen(mentor, np.intp))
        object.__setattr__(self, "score", _frozen(score, np.float64))

    @property
    def n_edges(self) -> int:
        return int(self.mentee.size)

    @classmethod
    def from_dense(cls, scores: FloatArray, allowed: BoolArray) -> CandidateGraph:
        """Every allowed pair with a positive score (a zero score gains nothing)."""
        keep = _usable(scores, allowed)
        mentee, mentor = np.nonzero(keep)
        return cls(scores.shape[0], scores.shape[1], mentee, mentor, scores[mentee, mentor])

    @classmethod
    def top_k(cls, scores: FloatArray, allowed: BoolArray, k: int) -> CandidateGraph:
        """Each mentee's k best allowed pairs with a positive score (fewer if it has fewer).

        Ties at the k-th place go to the lower mentor index.
        """
        if k < 0:
            raise ValueError("k must not be negative")
        keep = _usable(scores, allowed)
        n_mentees, n_mentors = scores.shape
        if k >= n_mentors:
            return cls.from_dense(scores, allowed)
        mentees: list[IntArray] = []
        mentors: list[IntArray] = []
        block = max(1, _TOP_K_BLOCK_CELLS // max(1, n_mentors))
        for first in range(0, n_mentees, block):  # blocks bound memory on large cohorts
            rows = slice(first, min(first + block, n_mentees))
            masked = np.where(keep[rows], scores[rows], -np.inf)
            best = _top_k_columns(masked, k)
            chosen = np.take_along_axis(masked, best, axis=1) > -np.inf
            row_of = np.broadcast_to(np.arange(first, rows.stop)[:, np.newaxis], best.shape)
            mentees.append(row_of[chosen])
            mentors.append(best[chosen])
        mentee = np.concatenate(mentees) if mentees else np.zeros(0, dtype=np.intp)
        mentor = np.concatenate(mentors) if mentors else np.zeros(0, dtype=np.intp)
        return cls(n_mentees, n_mentors, mentee, mentor, scores[mentee, mentor])


def _usable(scores: FloatArray, allowed: BoolArray) -> BoolArray:
    if scores.ndim != 2 or scores.shape != allowed.shape:
        raise ValueError("scores and allowed must be matrices of the same shape")
    allowed = np.asarray(allowed, dtype=np.bool_)
    if np.any(allowed & np.isnan(scores)):
        raise ValueError("allowed pairs must have a score, not NaN")
    return allowed & (scores > 0.0)


def _top_k_columns(masked: FloatArray, k: int) -> IntArray:
    """Column indices of the k largest values of each row (0 < k < number of columns)."""
    n_cols = masked.shape[1]
    if k == 0:
        return np.zeros((masked.shape[0], 0), dtype=np.intp)
    best = np.argpartition(masked, n_cols - k, axis=1)[:, n_cols - k :]
    # argpartition picks arbitrarily among values tied with the k-th best; redo those rows
    # with a stable sort so that ties go to the lower mentor index.
    kth = np.take_along_axis(masked, best, axis=1).min(axis=1)
    above = (masked > kth[:, np.newaxis]).sum(axis=1)
    tied = (masked == kth[:, np.newaxis]).sum(axis=1)
    ambiguous = np.flatnonzero((above + tied > k) & (kth > -np.inf))
    if ambiguous.size:
        stable = np.argsort(-masked[ambiguous], axis=1, kind="stable")[:, :k]
        best[ambiguous] = stable
    return best.astype(np.intp, copy=False)


@dataclass(frozen=True, eq=False)
class Assignment:
    """The outcome of a cohort round."""

    mentor_of: IntArray  # per mentee: mentor index, or -1 when unmatched
    total_score: float
    matched: int
    method: str  # "flow", "dense" or "greedy"

    def mentor_load(self, n_mentors: int) -> IntArray:
        """How many mentees each mentor received."""
        taken = self.mentor_of[self.mentor_of != UNMATCHED]
        return np.bincount(taken, minlength=n_mentors).astype(np.intp)


def _check_capacity(graph: CandidateGraph, capacity: IntArray) -> IntArray:
    capacity = np.asarray(capacity)
    if capacity.shape != (graph.n_mentors,):
        raise ValueError("capacity must have one entry per mentor")
    if capacity.size and not np.issubdtype(capacity.dtype, np.integer):
        raise ValueError("capacity must be integers")
    if np.any(capacity < 0):
        raise ValueError("capacity must not be negative")
    return capacity.astype(np.intp, copy=False)


def _result(graph: CandidateGraph, mentee: IntArray, mentor: IntArray, method: str) -> Assignment:
    """An Assignment from matched (mentee, mentor) pairs, which must be edges of the graph."""
    mentor_of = np.full(graph.n_mentees, UNMATCHED, dtype=np.intp)
    mentor_of[mentee] = mentor
    # Edges are sorted by (mentee, mentor), so their combined key is sorted too.
    keys = graph.mentee.astype(np.int64) * graph.n_mentors + graph.mentor
    edge = np.searchsorted(keys, mentee.astype(np.int64) * graph.n_mentors + mentor)
    # fsum is exact up to the final rounding: equal sets of pairs give equal totals.
    total = math.fsum(graph.score[edge].tolist())
    return Assignment(mentor_of, total, int(mentee.size), method)


def _costs(graph: CandidateGraph) -> npt.NDArray[np.int64]:
    """Edge scores as integers in units of 2**-40."""
    costs: npt.NDArray[np.int64] = np.rint(graph.score * _SCORE_UNIT).astype(np.int64)
    return costs


def assign_optimal(graph: CandidateGraph, capacity: IntArray) -> Assignment:
    """The assignment with the highest total score within each mentor's free slots: a
    minimum-cost flow, mentor capacities as arc capacities."""
    capacity = _check_capacity(graph, capacity)
    usable = capacity[graph.mentor] > 0
    mentee, mentor = graph.mentee[usable], graph.mentor[usable]
    if not mentee.size:
        empty = np.zeros(0, dtype=np.intp)
        return _result(graph, empty, empty, "flow")
    n, m = graph.n_mentees, graph.n_mentors
    source, sink = n + m, n + m + 1
    with_edges = np.unique(mentee)
    mentors = np.unique(mentor)
    tails = np.concatenate([np.full(with_edges.size, source), mentee, n + mentors, [source]])
    heads = np.concatenate([with_edges, n + mentor, np.full(mentors.size, sink), [sink]])
    capacities = np.concatenate(
        [
            np.ones(with_edges.size + mentee.size, dtype=np.int64),
            capacity[mentors],
            [with_edges.size],
        ]
    )
    unit_costs = np.concatenate(
        [
            np.zeros(with_edges.size, dtype=np.int64),
            -_costs(graph)[usable],
            np.zeros(mentors.size + 1, dtype=np.int64),
        ]
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        capacities.astype(np.int64),
        unit_costs.astype(np.int64),
    )
    flow.set_node_supply(source, int(with_edges.size))
    flow.set_node_supply(sink, -int(with_edges.size))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"minimum-cost flow failed: {status}")
    edge_arcs = np.asarray(arcs)[with_edges.size : with_edges.size + mentee.size]
    taken = np.asarray(flow.flows(edge_arcs)) > 0
    return _result(graph, mentee[taken], mentor[taken], "flow")


def assign_dense(graph: CandidateGraph, capacity: IntArray) -> Assignment:
    """The exact optimum by scipy's dense assignment on slot-expanded columns (a mentor with c
    free slots becomes c identical columns): the reference for cohorts small enough for a
    dense matrix. Non-edges score 0, so choosing one reads as "unmatched"."""
    capacity = _check_capacity(graph, capacity)
    # A mentor cannot fill more slots than it has candidate mentees.
    degree = np.bincount(graph.mentor, minlength=graph.n_mentors)
    slots = np.minimum(capacity, degree)
    slot_start = np.concatenate(([0], np.cumsum(slots)))
    n_slots = int(slot_start[-1])
    slot_mentor = np.repeat(np.arange(graph.n_mentors, dtype=np.intp), slots)
    per_edge = slots[graph.mentor]
    expanded = np.repeat(np.arange(graph.n_edges), per_edge)
    slot_index = np.arange(expanded.size) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    if not expanded.size:
        empty = np.zeros(0, dtype=np.intp)
        return _result(graph, empty, empty, "dense")
    gain = np.zeros((graph.n_mentees, n_slots))
    gain[graph.mentee[expanded], slot_start[graph.mentor[expanded]] + slot_index] = graph.score[
        expanded
    ]
    rows, cols = linear_sum_assignment(gain, maximize=True)
    real = gain[rows, cols] > 0.0
    mentees = np.asarray(rows, dtype=np.intp)[real]
    return _result(graph, mentees, slot_mentor[np.asarray(cols, dtype=np.intp)[real]], "dense")


@dataclass(frozen=True, eq=False)
class DualPrices:
    """Optimal dual prices of an assignment on its graph, in units of 2**-40: per mentor a
    price (0 for a mentor with a slot left), per mentee a surplus (0 when unmatched), such that
    no edge scores above surplus + price and every matched edge scores exactly that. A pair
    outside the graph that scores above its mentee's surplus plus its mentor's price could
    raise the total; if none does, the assignment is optimal over every pair."""

    surplus: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]

    def bound(self, capacity: IntArray) -> int:
        """The dual objective: no assignment on the graph totals more (units of 2**-40)."""
        return int(self.surplus.sum() + (capacity.astype(np.int64) * self.price).sum())


def dual_prices(graph: CandidateGraph, capacity: IntArray, assignment: Assignment) -> DualPrices:
    """The highest mentor prices consistent with `assignment` being optimal on `graph`, from
    shortest paths (Bellman-Ford, in exact integers) over the mentors: an edge (i, j) of a
    mentee matched to a says price[a] <= price[j] + score(i, a) - score(i, j); an edge of an
    unmatched mentee says price[j] >= its score; a mentor with a slot left has price 0.
    Raises ValueError when no such prices exist (the assignment is not optimal)."""
    capacity = _check_capacity(graph, capacity)
    m = graph.n_mentors
    root = m
    costs = _costs(graph)
    mentor_of = assignment.mentor_of
    matched_to = mentor_of[graph.mentee]
    own = np.full(graph.n_mentees, 0, dtype=np.int64)
    is_match = matched_to == graph.mentor
    own[graph.mentee[is_match]] = costs[is_match]
    load = assignment.mentor_load(m)
    with_room = np.flatnonzero(load < capacity)
    swap = (matched_to != UNMATCHED) & ~is_match
    unmatched = matched_to == UNMATCHED
    sources = np.concatenate(
        [
            graph.mentor[swap],
            np.full(int(is_match.sum()), root),
            graph.mentor[unmatched],
            np.full(with_room.size, root),
            np.arange(m),
        ]
    )
    targets = np.concatenate(
        [
            matched_to[swap],
            graph.mentor[is_match],
            np.full(int(unmatched.sum()), root),
            with_room,
            np.full(m, root),
        ]
    )
    weights = np.concatenate(
        [
            own[graph.mentee[swap]] - costs[swap],
            costs[is_match],
            -costs[unmatched],
            np.zeros(with_room.size + m, dtype=np.int64),
        ]
    )
    distance = _shortest_from(root, m + 1, sources, targets, weights)
    price = distance[:m]
    # Index -1 (unmatched) reads the appended 0.
    surplus = np.where(mentor_of != UNMATCHED, own - np.append(price, 0)[mentor_of], 0)
    return DualPrices(surplus=surplus.astype(np.int64), price=price)


def _shortest_from(
    root: int,
    n_nodes: int,
    sources: IntArray,
    targets: IntArray,
    weights: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Shortest distances from `root` (Bellman-Ford, every edge relaxed at once per pass).
    Distances start at most the largest weight away and only fall, so int64 never overflows."""
    unreachable = np.int64(2**62)
    distance = np.full(n_nodes, unreachable, dtype=np.int64)
    distance[root] = 0
    order = np.argsort(targets, kind="stable")
    sources, targets, weights = sources[order], targets[order], weights[order]
    starts = (
        np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
        if targets.size
        else np.zeros(0, dtype=np.intp)
    )
    heads = targets[starts]
    for _ in range(n_nodes + 1):
        reach = distance[sources]
        offered = np.where(reach < unreachable, reach + weights, unreachable)
        best = np.minimum.reduceat(offered, starts) if starts.size else offered
        improved = best < distance[heads]
        if not improved.any():
            return distance
        distance[heads[improved]] = best[improved]
        if distance[root] < 0:
            break
    raise ValueError("the assignment is not optimal on its graph: no dual prices exist")


def assign_greedy(graph: CandidateGraph, capacity: IntArray) -> Assignment:
    """First come, first served: mentees in index order each take their best open mentor.

    Ties go to the lower mentor index. This is the baseline the optimum is measured against.
    """
    capacity = _check_capacity(graph, capacity)
    free = capacity.copy()
    open_edge = free[graph.mentor] > 0  # mentors without slots can never be taken
    mentee = graph.mentee[open_edge]
    mentor = graph.mentor[open_edge]
    order = np.lexsort((mentor, -graph.score[open_edge], mentee))
    mentee, mentor = mentee[order], mentor[order]
    bounds = np.searchsorted(mentee, np.arange(graph.n_mentees + 1))
    chosen_mentee: list[int] = []
    chosen_mentor: list[int] = []
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        candidates = mentor[bounds[i] : bounds[i + 1]]
        available = np.flatnonzero(free[candidates] > 0)
        if available.size:
            taken = int(candidates[available[0]])
            free[taken] -= 1
            chosen_mentee.append(i)
            chosen_mentor.append(taken)
    return _result(
        graph,
        np.array(chosen_mentee, dtype=np.intp),
        np.array(chosen_mentor, dtype=np.intp),
        "greedy",
    )


@dataclass(frozen=True, eq=False)
class RoundCandidates:
    """The candidate graph of a round, with what bounds every pair left out of it: no allowed
    pair outside the graph scores above its mentee's `row_bound` or above its mentor's
    `column_bound` (0 where a list holds every pair that scores). A mentee without an edge
    is one no mentor with a free slot suits at all."""

    graph: CandidateGraph
    row_bound: FloatArray
    column_bound: FloatArray


def round_candidates(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    excluded: Sequence[Collection[uuid.UUID]],
    per_mentee: int,
    per_mentor: int = 10,
    block: int = 256,
) -> RoundCandidates:
    """The sparse graph a large round is solved on: every mentee's `per_mentee` best allowed
    mentors, and every mentor's `per_mentor` best allowed mentees. The second half matters
    when many mentees want the same few mentors: without it, a mentor in nobody's top list
    has no edge at all and their slots stay empty while mentees they could help wait.

    One fused product per block of mentees against the mentors with a free slot; each row's
    best from group maxima, each mentor's best kept across blocks above a running cut-off."""
    n_mentors = len(pool)
    scorer = _SlotHolders(pool)
    row_bound = np.zeros(len(mentees))
    column = _ColumnBest(scorer.width, per_mentor)
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    for start in range(0, len(mentees), block):
        batch = mentees[start : start + block]
        mentee_block = MenteeBlock(batch, pool.config)
        values = scorer.values(mentee_block, excluded[start : start + block])
        everyone = np.arange(len(batch))
        if per_mentee > 0:
            found = best_per_row(values, everyone, per_mentee)
            row_bound[start : start + len(batch)] = np.where(found.complete, 0.0, found.last_value)
            edges = scorer.teaching(mentee_block, found.rows, found.columns, found.values, start)
            parts.append(edges)
            # A mentee whose best were all mentors who teach nothing of the gap searches on,
            # so that a mentee without an edge is one no mentor suits at all.
            searching = np.setdiff1d(np.flatnonzero(~found.complete), edges[0] - start)
            after = (found.last_value[searching], found.last_column[searching])
            while searching.size:
                more = best_per_row(values, searching, per_mentee, after)
                edges = scorer.teaching(mentee_block, more.rows, more.columns, more.values, start)
                parts.append(edges)
                again = np.isin(searching, edges[0] - start, invert=True) & ~more.complete
                after = (more.last_value[again], more.last_column[again])
                searching = searching[again]
        else:
            row_bound[start : start + len(batch)] = np.maximum(values.max(axis=1, initial=0.0), 0)
        column.add(values, start)
        del values
    # Each mentor's best mentees, kept only where the mentor can teach them.
    for start in range(0, len(mentees), block):
        rows, columns, scores = column.in_rows(start, start + block)
        if rows.size:
            batch_block = MenteeBlock(mentees[start : start + block], pool.config)
            parts.append(scorer.teaching(batch_block, rows - start, columns, scores, start))
    mentee_idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.intp)
    mentor_idx = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.intp)
    score = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    # Both halves may name the same pair: keep it once.
    _, unique = np.unique(mentee_idx * max(n_mentors, 1) + mentor_idx, return_index=True)
    column_bound = np.zeros(n_mentors)
    column_bound[scorer.columns] = column.bound()[: scorer.columns.size]
    graph = CandidateGraph(
        n_mentees=len(mentees),
        n_mentors=n_mentors,
        mentee=mentee_idx[unique].astype(np.intp),
        mentor=mentor_idx[unique].astype(np.intp),
        score=score[unique],
    )
    return RoundCandidates(graph=graph, row_bound=row_bound, column_bound=column_bound)


def candidate_graph(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    excluded: Sequence[Collection[uuid.UUID]],
    per_mentee: int,
    per_mentor: int = 10,
    block: int = 256,
) -> CandidateGraph:
    """`round_candidates`' graph alone."""
    return round_candidates(mentees, pool, excluded, per_mentee, per_mentor, block).graph


class _SlotHolders:
    """The mentors with a free slot as the columns of the fused product (padded with empty
    rows to whole groups), and the pool columns they stand for. Two more feature columns carry
    the mentors' dual prices and a constant 1, for the reduced scores of `optimal_round`."""

    def __init__(self, pool: MentorPool) -> None:
        self.pool = pool
        self.columns = np.flatnonzero(pool.free_slots > 0)
        self.width = max(-(-self.columns.size // _GROUP), 1) * _GROUP
        n_features = pool.features.shape[1]
        self.features = np.zeros((self.width, n_features + 2))
        self.features[: self.columns.size, :n_features] = pool.features[self.columns]
        self.features[: self.columns.size, -1] = 1.0
        self.at = np.full(len(pool), -1, dtype=np.intp)
        self.at[self.columns] = np.arange(self.columns.size)

    def values(
        self,
        mentee_block: MenteeBlock,
        excluded: Sequence[Collection[uuid.UUID]],
        surplus: FloatArray | None = None,
    ) -> FloatArray:
        """(b, width) each pair's total where allowed, at most 0 where a hard constraint or an
        exclusion forbids it (the teaching rule is left to `teaching`); given the mentees'
        `surplus`, each pair's reduced score instead: total - surplus - the mentor's price
        (`set_prices`), above 0 where the pair would raise the round's total."""
        table = self.pool.fused_tables(mentee_block, forbid=True)
        extra = np.zeros((len(mentee_block), 2))
        if surplus is not None:
            extra[:, 0] = -1.0
            extra[:, 1] = -surplus
        values: FloatArray = np.hstack([table, extra]) @ self.features.T
        rows, pool_columns = self.pool.excluded_columns(mentee_block.mentees, excluded)
        at = self.at[pool_columns]
        values[rows[at >= 0], at[at >= 0]] = FORBIDDEN
        return values

    def set_prices(self, price: FloatArray) -> None:
        self.features[: self.columns.size, -2] = price[self.columns]

    def teaching(
        self,
        mentee_block: MenteeBlock,
        rows: IntArray,
        positions: IntArray,
        scores: FloatArray,
        first_row: int,
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """The (mentee, pool column, score) of the pairs whose mentor can teach the mentee."""
        columns = self.columns[positions]
        taught = teaches(
            mentee_block.current[rows],
            mentee_block.target[rows],
            mentee_block.roles[rows],
            self.pool.levels[columns],
        )
        return rows[taught] + first_row, columns[taught], scores[taught]


class _ColumnBest:
    """Each column's `depth` best positive values over blocks of rows (ties: the lower row),
    kept above a running cut-off so that a block hands over only the values that may enter;
    merged once the values handed over outnumber those kept."""

    def __init__(self, width: int, depth: int) -> None:
        self.depth = depth
        # A value must exceed it to enter; a column keeping nothing bounds nothing.
        self.cutoff = np.zeros(width) if depth > 0 else np.full(width, np.inf)
        self.rows = np.zeros(0, dtype=np.intp)
        self.columns = np.zeros(0, dtype=np.intp)
        self.values = np.zeros(0)
        self._pending: list[tuple[IntArray, IntArray, FloatArray]] = []
        self._pending_size = 0

    def add(self, values: FloatArray, first_row: int) -> None:
        if self.depth == 0:
            return
        above = values > self.cutoff
        b, width = values.shape
        if b > self.depth and np.count_nonzero(above) > 4 * self.depth * width:
            # While the cut-offs are still low (the first blocks): the depth-th best of groups
            # of rows bounds each column's depth-th best value from below, so only values
            # reaching it are handed over.
            groups = b // self.depth
            maxima = values[: groups * self.depth].reshape(self.depth, groups, width).max(axis=1)
            floor = maxima.min(axis=0)
            above &= values >= floor
        rows, columns = np.nonzero(above)
        self._pending.append((rows + first_row, columns, values[rows, columns]))
        self._pending_size += rows.size
        if self._pending_size > max(self.rows.size, self.depth * width // 4):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        rows = np.concatenate([self.rows, *(p[0] for p in self._pending)])
        columns = np.concatenate([self.columns, *(p[1] for p in self._pending)])
        values = np.concatenate([self.values, *(p[2] for p in self._pending)])
        self._pending, self._pending_size = [], 0
        order = np.lexsort((rows, -values, columns))
        rank = np.arange(order.size) - np.searchsorted(columns[order], columns[order])
        keep = order[rank < self.depth]
        self.rows, self.columns, self.values = rows[keep], columns[keep], values[keep]
        full = np.bincount(self.columns, minlength=self.cutoff.size) >= self.depth
        lowest = np.full(self.cutoff.size, np.inf)
        np.minimum.at(lowest, self.columns, self.values)
        self.cutoff = np.where(full, lowest, 0.0)

    def bound(self) -> FloatArray:
        """Per column: no value left out is above it (0 where the column kept every positive
        value it met)."""
        self._merge()
        return self.cutoff

    def in_rows(self, first: int, stop: int) -> tuple[IntArray, IntArray, FloatArray]:
        self._merge()
        chosen = (self.rows >= first) & (self.rows < stop)
        return self.rows[chosen], self.columns[chosen], self.values[chosen]


@dataclass(frozen=True, eq=False)
class RoundSolution:
    """A round's assignment, the graph it was found on, and the proof: `bound` is the highest
    total any assignment over every allowed pair could reach; `proven` when the assignment
    reaches it. `solves` flows were solved; `pairs_checked` pairs scored again for the proof."""

    assignment: Assignment
    graph: CandidateGraph
    bound: float
    proven: bool
    solves: int
    pairs_checked: int


#: Pairs that would raise the total, added to the graph per mentee and check.
_GAINS_PER_MENTEE = 30
#: How far below 0 a reduced score still joins the graph (prices move between solves).
_NEAR_MISS = 2.0**-2
#: A price no score reaches (a power of two, so reduced scores stay exact).
_NO_GAIN = 2.0


def optimal_round(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    excluded: Sequence[Collection[uuid.UUID]],
    per_mentee: int,
    per_mentor: int = 10,
    *,
    block: int = 256,
    max_solves: int = 6,
) -> RoundSolution:
    """The optimal assignment of a round over EVERY allowed pair, found on a sparse graph.

    Solve on the candidate graph and price it (`dual_prices`). A pair left out can only add to
    the total if it scores above its mentee's surplus plus its mentor's price, and it scores
    at most its row's and its column's cut-off: so only mentees whose cut-off is above their
    surplus are scored again, against mentors whose cut-off is above their price, as reduced
    scores (one product with the prices as one more column). Each mentee's best pairs that
    would gain join the graph and the flow is solved again; when none is left the assignment
    is optimal over every pair. After `max_solves` the last assignment is returned with the
    dual bound the last check proved (never below the true optimum)."""
    candidates = round_candidates(mentees, pool, excluded, per_mentee, per_mentor, block)
    graph = candidates.graph
    capacity = pool.free_slots.copy()
    scorer = _SlotHolders(pool)
    checked = 0
    # Per mentee: no pair outside the graph has a reduced score above this, at the prices of
    # the last check (it only moves by how much the mentee's surplus and the prices fell).
    left = np.full(len(mentees), np.inf)
    last: tuple[FloatArray, FloatArray, BoolArray] | None = None
    for solve in range(1, max_solves + 1):
        assignment = assign_optimal(graph, capacity)
        prices = dual_prices(graph, capacity, assignment)
        surplus = prices.surplus / _SCORE_UNIT
        price = np.minimum(prices.price, 2**50) / _SCORE_UNIT  # unreachable: never a gain
        may_gain = candidates.row_bound > surplus
        unsafe = candidates.column_bound > price
        if last is None:
            stale, newly_unsafe = may_gain, np.zeros_like(unsafe)
        else:
            last_surplus, last_price, last_unsafe = last
            fell = np.max(np.where(last_unsafe, last_price - price, 0.0), initial=0.0)
            left = np.minimum(
                left + np.maximum(last_surplus - surplus, 0.0) + fell,
                candidates.row_bound - surplus,
            )
            stale = may_gain & (left > 0)
            newly_unsafe = unsafe & ~last_unsafe
        # A mentor whose cut-off is at most their price gains nobody: a price above any score.
        scorer.set_prices(np.where(unsafe, price, _NO_GAIN))
        rows = np.flatnonzero(stale)
        found, gaining, growth, pairs, rows_left = _pairs_that_gain(
            mentees, scorer, excluded, rows, surplus, block
        )
        left[rows] = rows_left
        others = np.flatnonzero(may_gain & ~stale)
        if newly_unsafe.any() and others.size:
            # Mentors no earlier check covered, against the mentees it did cover.
            scorer.set_prices(np.where(newly_unsafe, price, _NO_GAIN))
            more, more_gaining, more_growth, more_pairs, more_left = _pairs_that_gain(
                mentees, scorer, excluded, others, surplus, block
            )
            found = tuple(np.concatenate(pair) for pair in zip(found, more, strict=True))  # type: ignore[assignment]
            gaining, growth, pairs = (
                gaining + more_gaining,
                growth + more_growth,
                pairs + more_pairs,
            )
            left[others] = np.maximum(left[others], more_left)
        last = (surplus, price, unsafe)
        checked += pairs
        bound = (prices.bound(capacity) + growth) / _SCORE_UNIT
        if not gaining or solve == max_solves:
            return RoundSolution(assignment, graph, bound, not gaining, solve, checked)
        graph = _with_edges(graph, *found)
    raise AssertionError("unreachable")  # pragma: no cover


def _with_edges(
    graph: CandidateGraph, mentee: IntArray, mentor: IntArray, score: FloatArray
) -> CandidateGraph:
    """The graph with the new ones among these edges."""
    keys = graph.mentee.astype(np.int64) * graph.n_mentors + graph.mentor  # sorted
    new_keys = mentee.astype(np.int64) * graph.n_mentors + mentor
    at = np.minimum(np.searchsorted(keys, new_keys), max(keys.size - 1, 0))
    new = keys[at] != new_keys if keys.size else np.ones(new_keys.size, dtype=np.bool_)
    return CandidateGraph(
        graph.n_mentees,
        graph.n_mentors,
        np.concatenate([graph.mentee, mentee[new]]),
        np.concatenate([graph.mentor, mentor[new]]),
        np.concatenate([graph.score, score[new]]),
    )


def _pairs_that_gain(
    mentees: Sequence[Mentee],
    scorer: _SlotHolders,
    excluded: Sequence[Collection[uuid.UUID]],
    rows: IntArray,
    surplus: FloatArray,
    block: int,
) -> tuple[tuple[IntArray, IntArray, FloatArray], int, int, int, FloatArray]:
    """Each of `rows`' best allowed, teaching pairs by reduced score, down to `_NEAR_MISS`
    below 0 (at most `_GAINS_PER_MENTEE` a row): those above 0 would raise the total, those a
    little below are likely to once the prices move. Returns them, how many would raise the
    total, how much the dual bound must grow to cover every pair (each row's best reduced
    score above 0, units of 2**-40), how many pairs were scored, and per row the highest
    reduced score left among the pairs not returned."""
    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    gaining = 0
    growth = 0
    open_columns = int((scorer.features[: scorer.columns.size, -2] < _NO_GAIN).sum())
    rows_left = np.full(rows.size, -_NEAR_MISS)
    if not rows.size or not open_columns:
        empty = np.zeros(0, dtype=np.intp)
        return (empty, empty, np.zeros(0)), 0, 0, 0, rows_left
    for start in range(0, rows.size, block):
        chosen = rows[start : start + block]
        mentee_block = MenteeBlock([mentees[i] for i in chosen], scorer.pool.config)
        shifted = scorer.values(
            mentee_block, [excluded[i] for i in chosen], surplus[chosen] - _NEAR_MISS
        )
        searching = np.arange(len(chosen))
        after: tuple[FloatArray, IntArray] | None = None
        while searching.size:
            best = best_per_row(shifted, searching, _GAINS_PER_MENTEE, after)
            rows_left[start + searching] = np.where(
                best.complete, -_NEAR_MISS, best.last_value - _NEAR_MISS
            )
            pair_rows, pair_columns, gains = scorer.teaching(
                mentee_block, best.rows, best.columns, best.values - _NEAR_MISS, 0
            )
            if pair_rows.size:
                mentee_ids = chosen[pair_rows]
                prices = scorer.features[scorer.at[pair_columns], -2]
                found.append((mentee_ids, pair_columns, gains + surplus[mentee_ids] + prices))
                gaining += int((gains > 0).sum())
                most = np.zeros(len(chosen))
                np.maximum.at(most, pair_rows, gains)
                growth += int(np.rint(most.sum() * _SCORE_UNIT))
            # Rows whose best were all mentors who teach nothing: search on below them, as
            # long as what is left could still raise the total.
            with_pair = np.zeros(len(chosen), dtype=np.bool_)
            with_pair[pair_rows] = True
            again = ~with_pair[searching] & ~best.complete & (best.last_value > _NEAR_MISS)
            after = (best.last_value[again], best.last_column[again])
            searching = searching[again]
    pairs = rows.size * open_columns
    if not found:
        empty = np.zeros(0, dtype=np.intp)
        return (empty, empty, np.zeros(0)), 0, 0, pairs, rows_left
    return (
        (
            np.concatenate([f[0] for f in found]),
            np.concatenate([f[1] for f in found]),
            np.concatenate([f[2] for f in found]),
        ),
        gaining,
        growth,
        pairs,
        rows_left,
    )

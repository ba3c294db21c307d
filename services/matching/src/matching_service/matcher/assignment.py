"""Cohort assignment: every waiting mentee gets at most one mentor, maximising the total score.

Pure functions on numpy arrays, no I/O. A round is solved on a sparse candidate graph (each
mentee's best mentors and each mentor's best mentees, `candidate_graph`). Both solvers are one-to-one assignment algorithms, so
a mentor with c free slots is expanded into c identical slot columns; a mentee matched to any
of them is matched to that mentor. A mentor gets no more columns than it has candidate
mentees, since more could never be filled.

Leaving a mentee unmatched must be a legal choice, not a failure:

- dense (`linear_sum_assignment`): non-edges score 0 in the slot matrix, so choosing one adds
  nothing and reads as "unmatched"; real edges score above 0, so the two never mix up.
- sparse (`min_weight_full_bipartite_matching`): it fails unless every mentee can be matched,
  so each mentee gets a private dummy column. Real edges cost 2 - score and dummies cost 2:
  the costs stay above 0 (the sparse format drops explicit zeros, which would delete the
  edge) and minimising cost is maximising score, the dummies adding a constant 2 apiece.
  A score below about 1e-16 rounds to the dummy's cost, so such an edge may go unused.

Both give the same optimum; among several optima each solver picks one deterministically for
a given input (the edge order does not matter: graphs keep their edges sorted), but the two
may pick different ones.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from .pool import Mentee, MentorPool
from .scoring import BoolArray, FloatArray, IntArray

UNMATCHED = -1
_DUMMY_COST = 2.0
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
    method: str  # "dense", "sparse" or "greedy"

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


def assign_optimal(
    graph: CandidateGraph, capacity: IntArray, *, dense_slot_limit: int = 2_000_000
) -> Assignment:
    """The assignment with the highest total score within each mentor's free slots.

    Dense solver when n_mentees x usable slots <= dense_slot_limit, sparse otherwise
    (dense_slot_limit=0 always takes the sparse path).
    """
    capacity = _check_capacity(graph, capacity)
    # A mentor cannot fill more slots than it has candidate mentees.
    degree = np.bincount(graph.mentor, minlength=graph.n_mentors)
    slots = np.minimum(capacity, degree)
    slot_start = np.concatenate(([0], np.cumsum(slots)))
    n_slots = int(slot_start[-1])
    slot_mentor = np.repeat(np.arange(graph.n_mentors, dtype=np.intp), slots)

    # Slot-expanded edges: edge e appears once per slot of its mentor, still row-sorted.
    per_edge = slots[graph.mentor]
    n_expanded = int(per_edge.sum())
    expanded = np.repeat(np.arange(graph.n_edges), per_edge)
    slot_index = np.arange(n_expanded) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    row = graph.mentee[expanded]
    col = slot_start[graph.mentor[expanded]] + slot_index
    score = graph.score[expanded]

    use_dense = dense_slot_limit > 0 and graph.n_mentees * n_slots <= dense_slot_limit
    method = "dense" if use_dense else "sparse"
    if n_expanded == 0:
        empty = np.zeros(0, dtype=np.intp)
        return _result(graph, empty, empty, method)

    if use_dense:
        gain = np.zeros((graph.n_mentees, n_slots))
        gain[row, col] = score
        rows, cols = linear_sum_assignment(gain, maximize=True)
        real = gain[rows, cols] > 0.0
        mentees = np.asarray(rows, dtype=np.intp)[real]
        slots_taken = np.asarray(cols, dtype=np.intp)[real]
    else:
        per_row = np.bincount(row, minlength=graph.n_mentees)
        row_end = np.cumsum(per_row)
        # Each mentee's dummy column goes last in its row; its index is above every slot.
        indices = np.insert(col, row_end, n_slots + np.arange(graph.n_mentees))
        data = np.insert(_DUMMY_COST - score, row_end, _DUMMY_COST)
        indptr = np.concatenate(([0], np.cumsum(per_row + 1)))
        costs = csr_array(
            (data, indices, indptr), shape=(graph.n_mentees, n_slots + graph.n_mentees)
        )
        rows, cols = min_weight_full_bipartite_matching(costs)
        real = np.asarray(cols) < n_slots
        mentees = np.asarray(rows, dtype=np.intp)[real]
        slots_taken = np.asarray(cols, dtype=np.intp)[real]
    return _result(graph, mentees, slot_mentor[slots_taken], method)


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


def candidate_graph(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    excluded: Sequence[Collection[uuid.UUID]],
    per_mentee: int,
    per_mentor: int = 10,
    block: int = 256,
) -> CandidateGraph:
    """The sparse graph a large round is solved on: every mentee's `per_mentee` best allowed
    mentors, and every mentor's `per_mentor` best allowed mentees. The second half matters
    when many mentees want the same few mentors: without it, a mentor in nobody's top list
    has no edge at all and their slots stay empty while mentees they could help wait."""
    n_mentors = len(pool)
    mentee_parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    mentor_parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    for start in range(0, len(mentees), block):
        batch = mentees[start : start + block]
        scores, allowed = pool.evaluate(batch, excluded[start : start + block])
        usable = allowed & (scores.total > 0)
        part = CandidateGraph.top_k(scores.total, usable, per_mentee)
        mentee_parts.append((part.mentee + start, part.mentor, part.score))
        # This block's best mentees of each mentor; the best over all blocks are kept below.
        masked = np.where(usable, scores.total, 0.0)
        depth = min(per_mentor, len(batch))
        if depth and n_mentors:
            rows = np.argpartition(-masked, depth - 1, axis=0)[:depth]  # (depth, mentors)
            columns = np.broadcast_to(np.arange(n_mentors), rows.shape)
            best = masked[rows, columns]
            keep = best > 0
            mentor_parts.append((rows[keep] + start, columns[keep], best[keep]))
    mentee_idx, mentor_idx, score = (
        (np.concatenate([p[i] for p in mentee_parts]) for i in range(3))
        if mentee_parts
        else (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), np.zeros(0))
    )
    if mentor_parts:
        m_mentee, m_mentor, m_score = (
            np.concatenate([p[i] for p in mentor_parts]) for i in range(3)
        )
        order = np.lexsort((m_mentee, -m_score, m_mentor))
        m_mentee, m_mentor, m_score = m_mentee[order], m_mentor[order], m_score[order]
        # Rank within each mentor's run of candidates; keep the first `per_mentor`.
        first = np.searchsorted(m_mentor, m_mentor, side="left")
        keep = np.arange(len(m_mentor)) - first < per_mentor
        mentee_idx = np.concatenate([mentee_idx, m_mentee[keep]])
        mentor_idx = np.concatenate([mentor_idx, m_mentor[keep]])
        score = np.concatenate([score, m_score[keep]])
    # Both halves may name the same pair: keep it once.
    _, unique = np.unique(mentee_idx * max(n_mentors, 1) + mentor_idx, return_index=True)
    return CandidateGraph(
        n_mentees=len(mentees),
        n_mentors=n_mentors,
        mentee=mentee_idx[unique].astype(np.intp),
        mentor=mentor_idx[unique].astype(np.intp),
        score=score[unique],
    )

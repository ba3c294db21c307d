"""Scoring mentors against a mentee's skill gaps: pure functions on numpy arrays, no I/O.

A mentee's gap on a skill is how far the target is above the current level; a mentor's
strength is their level. Gaps are turned into weights (each gap's share of the total gap,
scikit-learn's L1 `normalize`), and every mentor is scored at once (matrix operations over
all mentors, never a loop over pairs):

    reach[m, s]  = share of gap s that mentor m can teach: (strength - current) / gap, in [0, 1]
    similarity   = sum over gap skills of weight * reach
                   (the gap-weighted share of the distance the mentor can take the mentee)
    coverage     = sum over gap skills of weight * [strength >= target]
                   (the share of the gap on skills where the mentor is at or above the target)
    score        = W_SIMILARITY * similarity + W_COVERAGE * coverage

Both parts lie in [0, 1] and the weights sum to 1, so the score does too. Both only grow when a
mentor's strength on a gap skill grows, so a stronger mentor never scores lower, and strengths
on skills the mentee does not need neither help nor hurt. Cosine similarity was tried first and
dropped because of that: it penalises a mentor for being stronger than the gap's proportions.

Sums are taken element-wise per row rather than through a BLAS matrix product, whose rounding
can depend on a row's position: identical mentors must get identical scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.preprocessing import normalize

ALGORITHM_VERSION = "skill-gap-v2"
W_SIMILARITY = 0.7
W_COVERAGE = 0.3

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Scores:
    """Scores of n mentors against one mentee; arrays of length n."""

    total: FloatArray
    similarity: FloatArray
    coverage: FloatArray


def gap_vector(current: FloatArray, target: FloatArray) -> FloatArray:
    """How far each target is above the current level (never negative)."""
    return np.clip(target - current, 0.0, None)


def score_mentors(current: FloatArray, target: FloatArray, strengths: FloatArray) -> Scores:
    """Score every mentor (rows of `strengths`, shape n x k) for one mentee (vectors of k)."""
    gaps = gap_vector(current, target)
    n_mentors = strengths.shape[0]
    if n_mentors == 0 or not gaps.any():
        zeros = np.zeros(n_mentors)
        return Scores(zeros, zeros.copy(), zeros.copy())
    on_gap = gaps > 0
    weights = normalize(gaps[np.newaxis, on_gap], norm="l1")[0]
    # Capping the taught distance at the gap before dividing keeps every ratio within [0, 1].
    taught = np.minimum(np.clip(strengths[:, on_gap] - current[on_gap], 0.0, None), gaps[on_gap])
    reach = taught / gaps[on_gap]
    similarity = (reach * weights).sum(axis=1)
    coverage = ((strengths[:, on_gap] >= target[on_gap]) * weights).sum(axis=1)
    total = np.clip(W_SIMILARITY * similarity + W_COVERAGE * coverage, 0.0, 1.0)
    return Scores(
        total=total,
        similarity=np.clip(similarity, 0.0, 1.0),
        coverage=np.clip(coverage, 0.0, 1.0),
    )


def rank(scores: FloatArray, eligible: BoolArray) -> npt.NDArray[np.intp]:
    """Indices of eligible mentors with a positive score, best first (ties: lower index first)."""
    candidates = np.flatnonzero(eligible & (scores > 0.0))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]

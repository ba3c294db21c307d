"""Scoring mentors against a mentee's skill gaps: pure functions on numpy arrays, no I/O.

A mentee's gap on a skill is how far the target is above the current level; a mentor's
strength is their level. The score of a mentor is

    score = W_SIMILARITY * similarity + W_COVERAGE * coverage

* similarity: cosine similarity between the gap vector and the mentor's strength vector
  (both non-negative, so it lies in [0, 1]): does the mentor's profile point where the gaps are?
* coverage: the share of the total gap on skills where the mentor is at or above the mentee's
  target: how much of the distance the mentor can actually teach.

Both lie in [0, 1] and the weights sum to 1, so the score does too. Every mentor is scored at
once against one mentee (a matrix operation, never a loop over pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics.pairwise import cosine_similarity

ALGORITHM_VERSION = "skill-gap-v1"
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
    similarity = np.clip(cosine_similarity(gaps[np.newaxis, :], strengths)[0], 0.0, 1.0)
    teaches = strengths >= target[np.newaxis, :]
    coverage = (teaches * gaps[np.newaxis, :]).sum(axis=1) / gaps.sum()
    total = np.clip(W_SIMILARITY * similarity + W_COVERAGE * coverage, 0.0, 1.0)
    return Scores(total=total, similarity=similarity, coverage=coverage)


def rank(scores: FloatArray, eligible: BoolArray) -> npt.NDArray[np.intp]:
    """Indices of eligible mentors with a positive score, best first (ties: lower index first)."""
    candidates = np.flatnonzero(eligible & (scores > 0.0))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]

"""The scoring functions on their own: bounds, shape, vectorisation and ranking order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matching_service.scoring import gap_vector, rank, score_mentors

K = 6  # the scoring functions work for any number of skills; a few keep examples readable

levels = st.integers(min_value=0, max_value=5).map(float)
level_vectors = arrays(np.float64, K, elements=levels)
# Continuous levels too: the functions take floats, and nothing in them needs integers.
real_vectors = arrays(np.float64, K, elements=st.floats(0.0, 5.0, allow_nan=False))


@st.composite
def level_matrices(draw: st.DrawFn, elements: st.SearchStrategy[float] = levels) -> np.ndarray:
    n = draw(st.integers(min_value=1, max_value=8))
    return draw(arrays(np.float64, (n, K), elements=elements))


def vec(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --- crafted cases ---------------------------------------------------------------------------


def test_gap_is_target_minus_current_and_never_negative() -> None:
    gaps = gap_vector(vec(1, 4, 3), vec(5, 2, 3))
    assert gaps.tolist() == [4.0, 0.0, 0.0]


def test_mentor_pointing_exactly_at_the_gaps_and_reaching_targets_scores_one() -> None:
    scores = score_mentors(vec(0, 0, 5), vec(4, 2, 5), np.array([[4.0, 2.0, 0.0]]))
    assert scores.similarity[0] == pytest.approx(1.0)
    assert scores.coverage[0] == pytest.approx(1.0)
    assert scores.total[0] == pytest.approx(1.0)


def test_mentor_with_no_strength_on_any_gap_scores_zero() -> None:
    scores = score_mentors(vec(0, 5), vec(3, 5), np.array([[0.0, 5.0], [0.0, 0.0]]))
    assert scores.total.tolist() == [0.0, 0.0]


def test_coverage_is_the_share_of_the_total_gap_the_mentor_reaches() -> None:
    # Gaps 3 and 1; the mentor reaches the target only on the second skill: 1 of 4.
    scores = score_mentors(vec(0, 2), vec(3, 3), np.array([[2.0, 3.0]]))
    assert scores.coverage[0] == pytest.approx(0.25)


def test_no_gaps_gives_zero_scores_for_every_mentor() -> None:
    strengths = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 3.0]])
    scores = score_mentors(vec(3, 3, 3), vec(3, 2, 0), strengths)
    assert scores.total.shape == (2,)
    assert not scores.total.any()
    assert not scores.similarity.any()
    assert not scores.coverage.any()


def test_no_mentors_gives_empty_scores() -> None:
    scores = score_mentors(vec(0, 0), vec(3, 3), np.zeros((0, 2)))
    assert scores.total.shape == (0,)
    assert rank(scores.total, np.zeros(0, dtype=bool)).tolist() == []


def test_rank_orders_best_first_and_breaks_ties_by_lower_index() -> None:
    scores = vec(0.5, 0.9, 0.5, 0.0, 0.9)
    order = rank(scores, np.ones(5, dtype=bool))
    assert order.tolist() == [1, 4, 0, 2]


def test_rank_leaves_out_ineligible_and_zero_scores() -> None:
    scores = vec(0.9, 0.8, 0.0, 0.7)
    eligible = np.array([False, True, True, True])
    assert rank(scores, eligible).tolist() == [1, 3]


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=75, deadline=None)
@given(current=level_vectors, target=level_vectors, strengths=level_matrices())
def test_scores_and_components_lie_in_unit_interval(
    current: np.ndarray, target: np.ndarray, strengths: np.ndarray
) -> None:
    scores = score_mentors(current, target, strengths)
    for component in (scores.total, scores.similarity, scores.coverage):
        assert component.shape == (strengths.shape[0],)
        assert np.all(component >= 0.0)
        assert np.all(component <= 1.0)


@settings(max_examples=75, deadline=None)
@given(
    current=real_vectors,
    target=real_vectors,
    strengths=level_matrices(st.floats(0.0, 5.0, allow_nan=False)),
)
def test_total_score_lies_in_unit_interval_for_fractional_levels(
    current: np.ndarray, target: np.ndarray, strengths: np.ndarray
) -> None:
    total = score_mentors(current, target, strengths).total
    assert np.all(np.isfinite(total))
    assert np.all((total >= 0.0) & (total <= 1.0))


@settings(max_examples=75, deadline=None)
@given(current=level_vectors, target=level_vectors, strengths=level_matrices())
def test_vectorised_scores_equal_scoring_each_mentor_alone(
    current: np.ndarray, target: np.ndarray, strengths: np.ndarray
) -> None:
    together = score_mentors(current, target, strengths)
    for i in range(strengths.shape[0]):
        alone = score_mentors(current, target, strengths[i : i + 1])
        # Not bit-for-bit: BLAS may sum in another order depending on the matrix shape.
        assert together.total[i] == pytest.approx(alone.total[0], abs=1e-12)
        assert together.similarity[i] == pytest.approx(alone.similarity[0], abs=1e-12)
        assert together.coverage[i] == pytest.approx(alone.coverage[0], abs=1e-12)


@settings(max_examples=75, deadline=None)
@given(current=level_vectors, target=level_vectors, scale=st.integers(1, 5))
def test_mentor_proportional_to_the_gaps_and_reaching_every_target_scores_one(
    current: np.ndarray, target: np.ndarray, scale: int
) -> None:
    gaps = np.clip(target - current, 0.0, None)
    if not gaps.any():
        return
    # Proportional to the gap vector (similarity 1) and at least at every target (coverage 1).
    ideal = gaps * (scale + float(target.max()))
    scores = score_mentors(current, target, ideal[np.newaxis, :])
    assert scores.total[0] == pytest.approx(1.0)


@settings(max_examples=75, deadline=None, database=None)
@given(
    current=level_vectors,
    target=level_vectors,
    strengths=level_matrices(),
    data=st.data(),
)
def test_raising_strength_on_a_gap_skill_never_lowers_the_score(
    current: np.ndarray, target: np.ndarray, strengths: np.ndarray, data: st.DataObject
) -> None:
    gap_skills = np.flatnonzero(target > current)
    if gap_skills.size == 0:
        return
    skill = data.draw(st.sampled_from(gap_skills.tolist()))
    mentor = data.draw(st.integers(0, strengths.shape[0] - 1))
    raised = strengths.copy()
    raised[mentor, skill] = data.draw(st.integers(int(raised[mentor, skill]), 5))
    before = score_mentors(current, target, strengths)
    after = score_mentors(current, target, raised)
    # Every part of the score, and the score itself, only grows with the mentor's strength.
    assert after.coverage[mentor] >= before.coverage[mentor]
    assert after.similarity[mentor] >= before.similarity[mentor] - 1e-12
    assert after.total[mentor] >= before.total[mentor] - 1e-12


@settings(max_examples=75, deadline=None)
@given(
    scores=arrays(np.float64, st.integers(0, 12), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0])),
    data=st.data(),
)
def test_rank_is_sorted_eligible_positive_and_stable(
    scores: np.ndarray, data: st.DataObject
) -> None:
    eligible = data.draw(arrays(np.bool_, scores.shape[0]))
    order = rank(scores, eligible).tolist()
    expected = sorted(
        (i for i in range(scores.shape[0]) if eligible[i] and scores[i] > 0),
        key=lambda i: (-scores[i], i),
    )
    assert order == expected


def test_reaching_past_the_proportions_of_the_gaps_does_not_cost_score() -> None:
    # Gaps of one level on two skills: a mentor at 5 on the first is worth at least as much
    # as the same mentor at 4 (cosine similarity would rank the 4 higher).
    current, target = np.zeros(K), vec(1, 1, 0, 0, 0, 0)
    scores = score_mentors(
        current, target, np.array([vec(4, 1, 0, 0, 0, 0), vec(5, 1, 0, 0, 0, 0)])
    )
    assert scores.total[1] >= scores.total[0]
    assert scores.total[0] == 1.0  # both gaps are fully reachable already

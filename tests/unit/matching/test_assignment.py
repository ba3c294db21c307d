"""Cohort assignment: crafted cases, then properties checked against a brute-force optimum;
the minimum-cost flow against scipy's exact dense assignment, its dual prices, and a whole
round proven optimal over every allowed pair."""

from __future__ import annotations

import math
import uuid

import matching_service.matcher.assignment as assignment_module
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matching_service.matcher.assignment import (
    Assignment,
    CandidateGraph,
    assign_dense,
    assign_greedy,
    assign_optimal,
    dual_prices,
    optimal_round,
)
from matching_service.matcher.pool import MentorPool

from tests.unit.matching.test_matching_kernel import random_population


def graph_of(n_mentees: int, n_mentors: int, edges: dict[tuple[int, int], float]) -> CandidateGraph:
    pairs = list(edges)
    return CandidateGraph(
        n_mentees,
        n_mentors,
        np.array([i for i, _ in pairs], dtype=np.intp),
        np.array([j for _, j in pairs], dtype=np.intp),
        np.array(list(edges.values()), dtype=np.float64),
    )


def caps(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.intp)


def both_optimal(graph: CandidateGraph, capacity: np.ndarray) -> tuple[Assignment, Assignment]:
    """The flow the service solves rounds with, and scipy's exact dense reference."""
    return assign_dense(graph, capacity), assign_optimal(graph, capacity)


# --- crafted cases ---------------------------------------------------------------------------


def test_mentor_with_two_slots_takes_the_two_best_scoring_mentees() -> None:
    graph = graph_of(3, 1, {(0, 0): 0.5, (1, 0): 0.9, (2, 0): 0.7})
    for result in both_optimal(graph, caps(2)):
        assert result.mentor_of.tolist() == [-1, 0, 0]
        assert result.total_score == pytest.approx(1.6)
        assert result.matched == 2


def test_mentor_with_two_slots_takes_the_two_mentees_who_gain_the_most_over_their_fallback() -> (
    None
):
    # Mentor 0 (2 slots) is everyone's favourite, but mentee 0 loses least by going to mentor 1.
    graph = graph_of(
        3, 2, {(0, 0): 0.9, (1, 0): 0.8, (2, 0): 0.7, (0, 1): 0.85, (1, 1): 0.3, (2, 1): 0.2}
    )
    for result in both_optimal(graph, caps(2, 1)):
        assert result.mentor_of.tolist() == [1, 0, 0]
        assert result.total_score == pytest.approx(2.35)
        assert result.mentor_load(2).tolist() == [2, 1]
    greedy = assign_greedy(graph, caps(2, 1))
    assert greedy.mentor_of.tolist() == [0, 0, 1]
    assert greedy.total_score == pytest.approx(1.9)


def test_mentor_without_free_slots_takes_nobody() -> None:
    graph = graph_of(2, 2, {(0, 0): 1.0, (1, 0): 1.0, (1, 1): 0.2})
    for result in (*both_optimal(graph, caps(0, 1)), assign_greedy(graph, caps(0, 1))):
        assert result.mentor_of.tolist() == [-1, 1]  # mentee 0 only had the full mentor
        assert result.mentor_load(2).tolist() == [0, 1]
        assert result.total_score == pytest.approx(0.2)


def test_mentee_without_edges_stays_unmatched() -> None:
    graph = graph_of(3, 2, {(0, 0): 0.6, (2, 1): 0.4})
    for result in (*both_optimal(graph, caps(3, 3)), assign_greedy(graph, caps(3, 3))):
        assert result.mentor_of.tolist() == [0, -1, 1]
        assert result.matched == 2


def test_greedy_can_be_strictly_worse_than_the_optimum() -> None:
    # Mentee 0 arrives first and takes mentor 0, the only mentor mentee 1 can use.
    graph = graph_of(2, 2, {(0, 0): 0.9, (0, 1): 0.8, (1, 0): 0.5})
    greedy = assign_greedy(graph, caps(1, 1))
    assert greedy.mentor_of.tolist() == [0, -1]
    assert greedy.total_score == pytest.approx(0.9)
    for result in both_optimal(graph, caps(1, 1)):
        assert result.mentor_of.tolist() == [1, 0]
        assert result.matched == 2
        assert result.total_score == pytest.approx(1.3)
        assert result.total_score > greedy.total_score


def test_greedy_breaks_score_ties_by_lower_mentor_index() -> None:
    graph = graph_of(2, 3, {(0, 2): 0.7, (0, 1): 0.7, (1, 1): 0.7, (1, 2): 0.7})
    assert assign_greedy(graph, caps(1, 1, 1)).mentor_of.tolist() == [1, 2]


def test_method_names_the_solver_used() -> None:
    graph = graph_of(2, 1, {(0, 0): 0.5, (1, 0): 0.6})
    assert assign_optimal(graph, caps(1)).method == "flow"
    assert assign_dense(graph, caps(1)).method == "dense"
    assert assign_greedy(graph, caps(1)).method == "greedy"


@pytest.mark.parametrize(("n_mentees", "n_mentors"), [(0, 0), (0, 3), (3, 0), (2, 2)])
def test_empty_graphs_match_nobody(n_mentees: int, n_mentors: int) -> None:
    graph = graph_of(n_mentees, n_mentors, {})
    capacity = np.ones(n_mentors, dtype=np.intp)
    for result in (*both_optimal(graph, capacity), assign_greedy(graph, capacity)):
        assert result.mentor_of.tolist() == [-1] * n_mentees
        assert result.matched == 0
        assert result.total_score == 0.0
        assert result.mentor_load(n_mentors).tolist() == [0] * n_mentors


def test_flow_and_dense_agree_on_a_medium_cohort() -> None:
    rng = np.random.default_rng(7)
    scores = rng.uniform(0.01, 1.0, (80, 25))
    graph = CandidateGraph.top_k(scores, rng.random((80, 25)) < 0.6, k=6)
    capacity = rng.integers(0, 4, 25).astype(np.intp)
    dense, flow = both_optimal(graph, capacity)
    assert (dense.method, flow.method) == ("dense", "flow")
    assert flow.total_score == pytest.approx(dense.total_score, abs=1e-9)
    assert flow.total_score >= assign_greedy(graph, capacity).total_score


def test_graph_keeps_its_edges_sorted_and_read_only() -> None:
    graph = graph_of(2, 2, {(1, 0): 0.3, (0, 1): 0.2, (0, 0): 0.1})
    assert graph.mentee.tolist() == [0, 0, 1]
    assert graph.mentor.tolist() == [0, 1, 0]
    assert graph.score.tolist() == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="read-only"):
        graph.score[0] = 1.0


@pytest.mark.parametrize(
    ("mentee", "mentor", "score", "message"),
    [
        ([0, 0], [1, 1], [0.5, 0.6], "duplicate"),
        ([0], [2], [0.5], "out of range"),
        ([2], [0], [0.5], "out of range"),
        ([0], [0], [0.0], r"\(0, 1\]"),
        ([0], [0], [1.5], r"\(0, 1\]"),
        ([0], [0], [float("nan")], r"\(0, 1\]"),
        ([0, 1], [0], [0.5], "same length"),
    ],
)
def test_graph_rejects_malformed_edges(
    mentee: list[int], mentor: list[int], score: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CandidateGraph(2, 2, np.array(mentee), np.array(mentor), np.array(score))


@pytest.mark.parametrize("capacity", [caps(1), caps(1, 1, 1), caps(1, -1)])
def test_capacity_must_be_one_non_negative_count_per_mentor(capacity: np.ndarray) -> None:
    graph = graph_of(1, 2, {(0, 0): 0.5})
    with pytest.raises(ValueError, match="capacity"):
        assign_optimal(graph, capacity)
    with pytest.raises(ValueError, match="capacity"):
        assign_greedy(graph, capacity)


def test_from_dense_keeps_allowed_pairs_with_a_positive_score() -> None:
    scores = np.array([[0.5, 0.0, 0.9], [0.2, 0.3, 0.0]])
    allowed = np.array([[True, True, False], [True, False, True]])
    graph = CandidateGraph.from_dense(scores, allowed)
    assert list(zip(graph.mentee.tolist(), graph.mentor.tolist(), strict=True)) == [(0, 0), (1, 0)]
    assert graph.score.tolist() == [0.5, 0.2]
    assert (graph.n_mentees, graph.n_mentors) == (2, 3)


def test_from_dense_rejects_a_nan_score_on_an_allowed_pair() -> None:
    scores = np.array([[np.nan, 0.5]])
    with pytest.raises(ValueError, match="NaN"):
        CandidateGraph.from_dense(scores, np.array([[True, True]]))
    # A NaN where the pair is not allowed anyway does not matter.
    assert CandidateGraph.from_dense(scores, np.array([[False, True]])).mentor.tolist() == [1]


def test_top_k_keeps_each_mentees_k_best_allowed_edges() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7, 0.3], [0.4, 0.2, 0.8, 0.6, 1.0]])
    allowed = np.array([[True, True, True, False, True], [False, False, True, False, True]])
    graph = CandidateGraph.top_k(scores, allowed, k=3)
    kept = {i: graph.mentor[graph.mentee == i].tolist() for i in range(2)}
    assert kept == {0: [1, 2, 4], 1: [2, 4]}  # mentee 1 has only two allowed edges


def test_top_k_breaks_ties_at_the_kth_place_by_lower_mentor_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.5, 0.5]])
    graph = CandidateGraph.top_k(scores, np.ones_like(scores, dtype=bool), k=3)
    assert graph.mentor.tolist() == [0, 1, 2]


def test_top_k_result_does_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    scores = rng.choice([0.2, 0.4, 0.6, 0.8, 1.0], size=(37, 11))
    allowed = rng.random((37, 11)) < 0.7
    whole = CandidateGraph.top_k(scores, allowed, k=4)
    monkeypatch.setattr(assignment_module, "_TOP_K_BLOCK_CELLS", 25)  # a few rows per block
    blocked = CandidateGraph.top_k(scores, allowed, k=4)
    assert blocked.mentee.tolist() == whole.mentee.tolist()
    assert blocked.mentor.tolist() == whole.mentor.tolist()


# --- properties ------------------------------------------------------------------------------

# A few round values make ties common; the rest exercise arbitrary floats.
edge_scores = st.one_of(st.sampled_from([0.25, 0.5, 1.0]), st.floats(0.01, 1.0))


@st.composite
def instances(draw: st.DrawFn) -> tuple[CandidateGraph, np.ndarray]:
    n_mentees = draw(st.integers(0, 6))
    n_mentors = draw(st.integers(0, 4))
    scores = draw(arrays(np.float64, (n_mentees, n_mentors), elements=edge_scores))
    allowed = draw(arrays(np.bool_, (n_mentees, n_mentors)))
    capacity = draw(arrays(np.intp, n_mentors, elements=st.integers(0, 3)))
    return CandidateGraph.from_dense(scores, allowed), capacity


def brute_force_optimum(graph: CandidateGraph, capacity: np.ndarray) -> float:
    """Best total over every assignment of each mentee to one of its edges or to nobody."""
    options: list[list[tuple[int, float]]] = [[] for _ in range(graph.n_mentees)]
    for i, j, s in zip(graph.mentee, graph.mentor, graph.score, strict=True):
        options[int(i)].append((int(j), float(s)))
    free = capacity.tolist()

    def best_from(i: int) -> float:
        if i == len(options):
            return 0.0
        best = best_from(i + 1)  # mentee i left unmatched
        for j, s in options[i]:
            if free[j] > 0:
                free[j] -= 1
                best = max(best, s + best_from(i + 1))
                free[j] += 1
        return best

    return best_from(0)


def reference_greedy(graph: CandidateGraph, capacity: np.ndarray) -> list[int]:
    free = capacity.tolist()
    mentor_of = [-1] * graph.n_mentees
    for i in range(graph.n_mentees):
        edges = [
            (-float(s), int(j))
            for m, j, s in zip(graph.mentee, graph.mentor, graph.score, strict=True)
            if m == i and free[j] > 0
        ]
        if edges:
            _, j = min(edges)
            mentor_of[i] = j
            free[j] -= 1
    return mentor_of


def assert_feasible(graph: CandidateGraph, capacity: np.ndarray, result: Assignment) -> None:
    edges = {
        (int(i), int(j)): float(s)
        for i, j, s in zip(graph.mentee, graph.mentor, graph.score, strict=True)
    }
    assert result.mentor_of.shape == (graph.n_mentees,)
    chosen = [(i, int(j)) for i, j in enumerate(result.mentor_of) if j != -1]
    assert all(pair in edges for pair in chosen)  # only along edges, one mentor per mentee
    assert np.all(result.mentor_load(graph.n_mentors) <= capacity)
    assert result.matched == len(chosen)
    assert result.total_score == math.fsum(edges[pair] for pair in chosen)


@settings(max_examples=200, deadline=None)
@given(instance=instances())
def test_every_solver_respects_edges_and_capacity(
    instance: tuple[CandidateGraph, np.ndarray],
) -> None:
    graph, capacity = instance
    for result in (*both_optimal(graph, capacity), assign_greedy(graph, capacity)):
        assert_feasible(graph, capacity, result)


@settings(max_examples=200, deadline=None)
@given(instance=instances())
def test_flow_and_dense_reach_the_brute_force_optimum(
    instance: tuple[CandidateGraph, np.ndarray],
) -> None:
    graph, capacity = instance
    dense, flow = both_optimal(graph, capacity)
    optimum = brute_force_optimum(graph, capacity)
    assert dense.total_score == pytest.approx(optimum, abs=1e-9)
    assert flow.total_score == pytest.approx(optimum, abs=1e-9)
    assert dense.total_score >= assign_greedy(graph, capacity).total_score - 1e-9


@settings(max_examples=200, deadline=None)
@given(instance=instances())
def test_greedy_matches_a_plain_first_come_first_served_loop(
    instance: tuple[CandidateGraph, np.ndarray],
) -> None:
    graph, capacity = instance
    assert assign_greedy(graph, capacity).mentor_of.tolist() == reference_greedy(graph, capacity)


@settings(max_examples=100, deadline=None)
@given(instance=instances(), seed=st.integers(0, 2**32 - 1))
def test_same_graph_in_any_edge_order_gives_the_same_assignment(
    instance: tuple[CandidateGraph, np.ndarray], seed: int
) -> None:
    graph, capacity = instance
    shuffle = np.random.default_rng(seed).permutation(graph.n_edges)
    shuffled = CandidateGraph(
        graph.n_mentees,
        graph.n_mentors,
        graph.mentee[shuffle],
        graph.mentor[shuffle],
        graph.score[shuffle],
    )
    for solve in (assign_optimal, assign_dense):
        first = solve(graph, capacity)
        again = solve(shuffled, capacity)
        assert again.mentor_of.tolist() == first.mentor_of.tolist()
        assert again.total_score == first.total_score


@settings(max_examples=200, deadline=None)
@given(
    scores=arrays(
        np.float64,
        st.tuples(st.integers(0, 6), st.integers(0, 8)),
        elements=st.sampled_from([0.0, 0.2, 0.5, 0.5, 0.9, 1.0]),
    ),
    k=st.integers(0, 9),
    data=st.data(),
)
def test_top_k_keeps_exactly_the_k_best_allowed_edges(
    scores: np.ndarray, k: int, data: st.DataObject
) -> None:
    allowed = data.draw(arrays(np.bool_, scores.shape))
    graph = CandidateGraph.top_k(scores, allowed, k)
    for i in range(scores.shape[0]):
        usable = [j for j in range(scores.shape[1]) if allowed[i, j] and scores[i, j] > 0]
        expected = sorted(sorted(usable, key=lambda j: (-scores[i, j], j))[:k])
        assert graph.mentor[graph.mentee == i].tolist() == expected


# --- dual prices and a round proven optimal ----------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(instance=instances())
def test_dual_prices_certify_the_flow_optimum(instance: tuple[CandidateGraph, np.ndarray]) -> None:
    graph, capacity = instance
    flow = assign_optimal(graph, capacity)
    prices = dual_prices(graph, capacity, flow)
    unit = 2.0**40
    costs = np.rint(graph.score * unit).astype(np.int64)
    # Feasible on every edge, tight on every match, and the dual total is the primal total.
    assert np.all(costs <= prices.surplus[graph.mentee] + prices.price[graph.mentor])
    matched = flow.mentor_of[graph.mentee] == graph.mentor
    tight = prices.surplus[graph.mentee] + prices.price[graph.mentor]
    assert np.all(costs[matched] == tight[matched])
    assert np.all(prices.surplus >= 0)
    assert np.all(prices.price >= 0)
    assert prices.bound(capacity) == costs[matched].sum()


def test_dual_prices_refuse_an_assignment_that_is_not_optimal() -> None:
    graph = graph_of(2, 1, {(0, 0): 0.2, (1, 0): 0.9})
    worse = Assignment(np.array([0, -1]), 0.2, 1, "by hand")
    with pytest.raises(ValueError, match="not optimal"):
        dual_prices(graph, caps(1), worse)


@pytest.mark.parametrize("seed", range(8))
def test_a_round_is_proven_to_reach_scipys_exact_optimum(seed: int) -> None:
    mentees, mentors = random_population(seed, 70, 25)
    pool = MentorPool(mentors)
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]
    # Small candidate lists, so the proof has to add pairs the first graph left out.
    solution = optimal_round(mentees, pool, excluded, per_mentee=2, per_mentor=1, block=16)

    scores, allowed = pool.evaluate(mentees)
    exact = assign_dense(CandidateGraph.from_dense(scores.total, allowed), pool.free_slots)
    assert solution.proven
    assert solution.assignment.total_score == pytest.approx(exact.total_score, rel=1e-12)
    assert solution.bound == pytest.approx(exact.total_score, rel=1e-12)
    assert_feasible(solution.graph, pool.free_slots, solution.assignment)
    assert np.all(
        allowed[
            np.flatnonzero(solution.assignment.mentor_of >= 0),
            solution.assignment.mentor_of[solution.assignment.mentor_of >= 0],
        ]
    )


def test_a_round_stopped_early_reports_a_bound_above_the_optimum() -> None:
    mentees, mentors = random_population(11, 120, 30)
    pool = MentorPool(mentors)
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]
    solution = optimal_round(mentees, pool, excluded, 1, 0, block=32, max_solves=1)
    scores, allowed = pool.evaluate(mentees)
    exact = assign_dense(CandidateGraph.from_dense(scores.total, allowed), pool.free_slots)
    assert solution.solves == 1
    assert solution.assignment.total_score <= exact.total_score + 1e-9
    assert solution.bound >= exact.total_score - 1e-9

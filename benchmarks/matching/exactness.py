"""(c) How far from the exact optimum (scipy's dense assignment on every allowed pair): the
round as the service runs it (`optimal_round`), the flow on each mentee's top-k alone, and
first come, first served; on small cohorts and one larger one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from matching_service.matcher.assignment import (
    CandidateGraph,
    assign_dense,
    assign_greedy,
    assign_optimal,
    optimal_round,
)
from matching_service.matcher.pool import Mentee, Mentor, MentorPool

from benchmarks.matching.cohort import outcome
from benchmarks.matching.population import (
    FULL_CAPACITY_WEIGHTS,
    SMALL_CAPACITY_WEIGHTS,
    make_mentees,
    make_mentors,
)
from benchmarks.matching.sizes import CHECK_TOP_K, SMALL_COHORT_K, Sizes
from benchmarks.progress import note, progress


def _against_exact(
    mentees: Sequence[Mentee], mentors: Sequence[Mentor], ks: Sequence[int], per_mentee: int
) -> dict[str, Any]:
    """One cohort: the exact optimum on every allowed pair (scipy, dense), the round as the
    service runs it, the flow on each mentee's top-k alone, and first-come greedy."""
    pool = MentorPool(mentors)
    scores, allowed = pool.evaluate(mentees)
    capacity = pool.free_slots.copy()
    full = CandidateGraph.from_dense(scores.total, allowed)
    exact = assign_dense(full, capacity)
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]
    solution = optimal_round(mentees, pool, excluded, per_mentee)
    result: dict[str, Any] = {
        "exact": outcome(exact, capacity),
        "round": outcome(solution.assignment, capacity),
        "round_proven": solution.proven,
        "edges": full.n_edges,
        "top_k": {},
    }
    for k in ks:
        top = CandidateGraph.top_k(scores.total, allowed, k)
        result["top_k"][k] = outcome(assign_optimal(top, capacity), capacity)
    widest = CandidateGraph.top_k(scores.total, allowed, max(ks))
    result["greedy_full"] = outcome(assign_greedy(full, capacity), capacity)
    result["greedy_top_k"] = outcome(assign_greedy(widest, capacity), capacity)
    return result


def _top_k_outcome(cohort: dict[str, Any], k: int) -> dict[str, Any]:
    outcome: dict[str, Any] = cohort["top_k"][k]
    return outcome


def bench_exactness(sizes: Sizes, rng: np.random.Generator) -> dict[str, Any]:
    small = []
    with progress("(c) small cohorts against the exact optimum", sizes.small_cohorts) as bar:
        for c in range(sizes.small_cohorts):
            mentors = make_mentors(rng, sizes.small_mentors, SMALL_CAPACITY_WEIGHTS, 100 + 2 * c)
            mentees = make_mentees(rng, sizes.small_mentees, 101 + 2 * c)
            small.append(_against_exact(mentees, mentors, SMALL_COHORT_K, sizes.round_candidates))
            bar.advance()
    check = None
    if sizes.check_mentees and sizes.check_mentors:
        note(
            f"  (c) {sizes.check_mentees:,} x {sizes.check_mentors:,} against the exact optimum ..."
        )
        mentors = make_mentors(rng, sizes.check_mentors, FULL_CAPACITY_WEIGHTS, 98)
        mentees = make_mentees(rng, sizes.check_mentees, 99)
        check = _against_exact(mentees, mentors, (CHECK_TOP_K,), sizes.round_candidates)

    def ratios(pick: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, float]:
        values = [
            pick(cohort)["total_score"] / cohort["exact"]["total_score"]
            for cohort in small
            if cohort["exact"]["total_score"] > 0
        ]
        matched = [pick(cohort)["matched"] / max(cohort["exact"]["matched"], 1) for cohort in small]
        return {
            "mean": float(np.mean(values)) if values else 1.0,
            "min": float(np.min(values)) if values else 1.0,
            "matched_mean": float(np.mean(matched)) if matched else 1.0,
        }

    return {
        "cohorts": sizes.small_cohorts,
        "mentees": sizes.small_mentees,
        "mentors": sizes.small_mentors,
        "exact_matched_mean": float(np.mean([c["exact"]["matched"] for c in small]))
        if small
        else 0.0,
        "top_k": {k: ratios(partial(_top_k_outcome, k=k)) for k in SMALL_COHORT_K},
        "greedy_full": ratios(lambda c: c["greedy_full"]),
        "round": ratios(lambda c: c["round"]),
        "cohort_results": small,
        "check": None
        if check is None
        else {
            "mentees": sizes.check_mentees,
            "mentors": sizes.check_mentors,
            "k": CHECK_TOP_K,
            **check,
        },
    }

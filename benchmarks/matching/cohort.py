"""(c) A cohort round: the candidate graph of every mentee's best mentors, then the optimal
assignment within every mentor's slots against first come, first served."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from matching_service.matcher.assignment import (
    Assignment,
    assign_greedy,
    assign_optimal,
    candidate_graph,
)
from matching_service.matcher.pool import MentorPool

from benchmarks.matching.population import (
    FULL_CAPACITY_WEIGHTS,
    IntArray,
    make_mentees,
    make_mentors,
)
from benchmarks.matching.profiling import timed
from benchmarks.matching.sizes import Sizes
from benchmarks.progress import note


def _load(assignment: Assignment, capacity: IntArray) -> dict[str, int]:
    load = assignment.mentor_load(capacity.size)
    return {
        "full": int(((load == capacity) & (capacity > 0)).sum()),
        "partly_used": int(((load > 0) & (load < capacity)).sum()),
        "unused": int(((load == 0) & (capacity > 0)).sum()),
        "slots_used": int(load.sum()),
    }


def outcome(assignment: Assignment, capacity: IntArray) -> dict[str, Any]:
    return {
        "method": assignment.method,
        "matched": assignment.matched,
        "total_score": assignment.total_score,
        "mean_score": assignment.total_score / assignment.matched if assignment.matched else 0.0,
        **_load(assignment, capacity),
    }


def bench_cohort(sizes: Sizes, rng: np.random.Generator) -> dict[str, Any]:
    mentors = make_mentors(rng, sizes.cohort_mentors, FULL_CAPACITY_WEIGHTS, id_prefix=3)
    mentees = make_mentees(rng, sizes.cohort_mentees, id_prefix=4)
    pool = MentorPool(mentors)
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]
    note(
        f"  (c) candidate graph: {len(mentees):,} x {len(mentors):,}, "
        f"top-{sizes.round_candidates} (one call) ..."
    )
    graph, graph_seconds = timed(
        lambda: candidate_graph(mentees, pool, excluded, sizes.round_candidates, sizes.block)
    )
    capacity = pool.free_slots.copy()
    degree = np.bincount(graph.mentor, minlength=len(mentors))
    note(f"  (c) assign_optimal on {graph.n_edges:,} edges ...")
    optimal, optimal_seconds = timed(lambda: assign_optimal(graph, capacity))
    greedy, greedy_seconds = timed(lambda: assign_greedy(graph, capacity))
    note(f"  (c) optimal {optimal_seconds:.1f} s, greedy {greedy_seconds:.1f} s")
    return {
        "mentees": len(mentees),
        "mentors": len(mentors),
        "slots": int(capacity.sum()),
        "per_mentee": sizes.round_candidates,
        "edges": graph.n_edges,
        "mentees_without_candidate": int(len(mentees) - np.unique(graph.mentee).size),
        "mentors_without_candidate": int((degree == 0).sum()),
        "slots_without_candidate": int(capacity[degree == 0].sum()),
        "graph_seconds": graph_seconds,
        "optimal_seconds": optimal_seconds,
        "greedy_seconds": greedy_seconds,
        "optimal": outcome(optimal, capacity),
        "greedy": outcome(greedy, capacity),
        "gain_percent": _gain(optimal, greedy),
    }


def _gain(better: Assignment, base: Assignment) -> float:
    if base.total_score <= 0:
        return 0.0
    return (better.total_score / base.total_score - 1.0) * 100.0

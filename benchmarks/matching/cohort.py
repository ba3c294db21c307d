"""(c) A cohort round: the optimal assignment over every allowed pair (`optimal_round`: a
minimum-cost flow on a sparse candidate graph, proven optimal by reduced costs) against first
come, first served; and (d) a round of the whole population of (a), in a process of its own so
that its memory peak is its own."""

from __future__ import annotations

import multiprocessing
import resource
import uuid
from typing import Any

import numpy as np
from matching_service.matcher.assignment import (
    Assignment,
    CandidateGraph,
    assign_dense,
    assign_greedy,
    optimal_round,
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


def round_figures(
    pool: MentorPool, mentees: list[Any], per_mentee: int, block: int
) -> dict[str, Any]:
    """One round as the service runs it, timed, with greedy on the same final graph."""
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]
    solution, seconds = timed(
        lambda: optimal_round(mentees, pool, excluded, per_mentee, block=block)
    )
    capacity = pool.free_slots.copy()
    greedy, greedy_seconds = timed(lambda: assign_greedy(solution.graph, capacity))
    return {
        "mentees": len(mentees),
        "mentors": len(pool),
        "slots": int(capacity.sum()),
        "per_mentee": per_mentee,
        "edges": solution.graph.n_edges,
        "round_seconds": seconds,
        "greedy_seconds": greedy_seconds,
        "solves": solution.solves,
        "pairs_checked": solution.pairs_checked,
        "pairs_total": len(mentees) * int((capacity > 0).sum()),
        "proven": solution.proven,
        "bound": solution.bound,
        "optimal": outcome(solution.assignment, capacity),
        "greedy": outcome(greedy, capacity),
        "gain_percent": _gain(solution.assignment, greedy),
    }


def bench_cohort(sizes: Sizes, rng: np.random.Generator) -> dict[str, Any]:
    mentors = make_mentors(rng, sizes.cohort_mentors, FULL_CAPACITY_WEIGHTS, id_prefix=3)
    mentees = make_mentees(rng, sizes.cohort_mentees, id_prefix=4)
    note(f"  (c) cohort round: {len(mentees):,} x {len(mentors):,} ...")
    figures = round_figures(MentorPool(mentors), mentees, sizes.round_candidates, sizes.block)
    note(f"  (c) {figures['round_seconds']:.1f} s, {figures['solves']} flows solved")
    return figures


def bench_whole_population(sizes: Sizes) -> dict[str, Any]:
    """(d) A round of every mentee of (a) against every mentor of (a), in a child process:
    time, memory peak, the dual bound, and the share of the exact optimum on a sampled
    sub-cohort small enough for scipy's dense solution."""
    note(f"  (d) round of {sizes.mentees:,} x {sizes.mentors:,} in a child process ...")
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as workers:
        figures: dict[str, Any] = workers.apply(_whole_population_round, (sizes,))
    note(f"  (d) {figures['round_seconds']:.1f} s, peak {figures['peak_mib']:,.0f} MiB")
    return figures


def _whole_population_round(sizes: Sizes) -> dict[str, Any]:
    streams = np.random.SeedSequence(sizes.seed).spawn(6)
    mentors = make_mentors(
        np.random.default_rng(streams[0]), sizes.mentors, FULL_CAPACITY_WEIGHTS, id_prefix=1
    )
    mentees = make_mentees(np.random.default_rng(streams[1]), sizes.mentees, id_prefix=2)
    before = _peak_mib()
    figures = round_figures(MentorPool(mentors), mentees, sizes.round_candidates, sizes.block)
    figures["peak_mib"] = _peak_mib()
    figures["population_mib"] = before
    # A sampled sub-cohort: the round's method against scipy's exact dense solution.
    sample = np.random.default_rng(sizes.seed)
    chosen_mentees = sample.choice(
        len(mentees), size=min(len(mentees), sizes.sample_mentees), replace=False
    )
    chosen_mentors = sample.choice(
        len(mentors), size=min(len(mentors), sizes.sample_mentors), replace=False
    )
    sub_pool = MentorPool([mentors[j] for j in np.sort(chosen_mentors)])
    sub_mentees = [mentees[i] for i in np.sort(chosen_mentees)]
    excluded: list[set[uuid.UUID]] = [set() for _ in sub_mentees]
    sub = optimal_round(sub_mentees, sub_pool, excluded, sizes.round_candidates, block=sizes.block)
    scores, allowed = sub_pool.evaluate(sub_mentees)
    exact = assign_dense(CandidateGraph.from_dense(scores.total, allowed), sub_pool.free_slots)
    figures["sample"] = {
        "mentees": len(sub_mentees),
        "mentors": len(sub_pool),
        "round_total": sub.assignment.total_score,
        "exact_total": exact.total_score,
    }
    return figures


def _peak_mib() -> float:
    """This process's peak resident memory (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _gain(better: Assignment, base: Assignment) -> float:
    if base.total_score <= 0:
        return 0.0
    return (better.total_score / base.total_score - 1.0) * 100.0

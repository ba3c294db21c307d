"""Matching benchmark: shortlists, one online match and a cohort round on a seeded synthetic
population of engineers moving into product management (mentees) and product-manager mentors.

    make bench-matching                                   # full sizes, about 5 minutes
    .venv/bin/python -m benchmarks.matching --quick --output /tmp/matching.md

It prints figures and writes them to a Markdown report (and, with --json, as raw numbers); it
never asserts on time. Timings are wall-clock in this one process. Each part is set against an
anchor measured in the same process: the bare numpy matrix product of the shape the scoring
works on (mentors one-hot by level, 84 columns, times a lookup table), so a reader can tell how
far the matcher is from the arithmetic it cannot avoid, on any machine.

The service code is only called, never changed or re-implemented: `domain.shortlists`,
`domain.rank_mentors`, `domain.proposal_for`, `use_cases.candidate_graph`,
`assignment.assign_optimal` and `assignment.assign_greedy`.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import linecache
import math
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np
import numpy.typing as npt
import scipy
from matching_service.matcher.assignment import (
    Assignment,
    CandidateGraph,
    assign_greedy,
    assign_optimal,
    candidate_graph,
)
from matching_service.matcher.pool import Mentee, Mentor, MentorPool, utc_offset_hours
from matching_service.matcher.ranking import proposal_for, rank_mentors, shortlists
from matching_service.matcher.scoring import ALGORITHM_VERSION, N_LEVELS, N_SKILLS, SKILL_IDS
from mentorship_shared.contracts.skills import TAXONOMY
from threadpoolctl import (  # type: ignore[import-untyped]
    threadpool_info,
    threadpool_limits,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
T = TypeVar("T")

DEFAULT_OUTPUT = Path("docs/benchmarks/matching.md")


# --- sizes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    mentees: int = 100_000  # (a) shortlists
    mentors: int = 10_000  # (a) and (b)
    shortlist: int = 5
    exposure_per_slot: int = 3
    online: int = 300  # (b) new mentees matched one at a time
    cohort_mentees: int = 20_000  # (c)
    cohort_mentors: int = 4_000
    round_candidates: int = 25
    small_cohorts: int = 10  # (c) against the exact optimum
    small_mentees: int = 60
    small_mentors: int = 20
    check_mentees: int = 2_000  # (c) one larger cohort against the exact optimum
    check_mentors: int = 400
    block: int = 256  # mentees scored at once, as domain.shortlists and candidate_graph do
    seed: int = 20261126


FULL = Sizes()
QUICK = Sizes(
    mentees=1_500,
    mentors=300,
    online=25,
    cohort_mentees=800,
    cohort_mentors=160,
    small_cohorts=3,
    check_mentees=200,
    check_mentors=40,
)
SMALL_COHORT_K = (3, 5, 10)


# --- progress and timing -------------------------------------------------------------------


class Progress:
    """A progress line on stderr: redrawn in place on a terminal, a line per tenth otherwise."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn = self.started
        self._tenths = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.live:
            if now - self._drawn >= 0.25 or self.done >= self.total:
                self._drawn = now
                self.stream.write(f"\r{self._line(now)}   ")
                self.stream.flush()
        elif (
            self.done < self.total
            and self.done * 10 // self.total > self._tenths
            and now - self._drawn >= 5.0
        ):
            # Not a terminal (a log file, CI): a line per tenth done, at most one per 5 s.
            self._drawn = now
            self._tenths = self.done * 10 // self.total
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def _line(self, now: float) -> str:
        elapsed = now - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return (
            f"  {self.label}: {self.done:,}/{self.total:,} ({self.done / self.total:.0%}), "
            f"{elapsed:.0f} s, about {left:.0f} s left"
        )

    def close(self) -> None:
        elapsed = time.perf_counter() - self.started
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(f"  {self.label}: {self.done:,} in {elapsed:.1f} s\n")
        self.stream.flush()


@contextmanager
def progress(label: str, total: int) -> Iterator[Progress]:
    bar = Progress(label, total)
    try:
        yield bar
    finally:
        bar.close()


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def profile(call: Callable[[], object]) -> dict[str, Any]:
    """Where one call spends its time (cProfile): own time per function, cumulative time of
    the largest sub-calls (nested ones overlap), and own time summed by package."""
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    profiler.create_stats()
    own = {key: float(entry[2]) for key, entry in profiler.stats.items()}
    cumulative = {key: float(entry[3]) for key, entry in profiler.stats.items()}
    total = sum(own.values()) or 1.0
    by_package: dict[str, float] = {}
    for key, seconds in own.items():
        package = _package(key[0], key[2])
        by_package[package] = by_package.get(package, 0.0) + seconds
    # Sub-calls: leave out the wrappers around everything (the call itself, comprehensions).
    inner = [key for key in cumulative if cumulative[key] < 0.95 * total]
    return {
        "seconds": total,
        "functions": [
            {"function": _function_label(*key), "seconds": own[key], "share": own[key] / total}
            for key in sorted(own, key=lambda key: -own[key])[:8]
        ],
        "cumulative": [
            {
                "function": _function_label(*key),
                "seconds": cumulative[key],
                "share": cumulative[key] / total,
            }
            for key in sorted(inner, key=lambda key: -cumulative[key])[:8]
        ],
        "packages": [
            {"package": package, "seconds": seconds, "share": seconds / total}
            for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])
        ],
    }


def _package(filename: str, name: str) -> str:
    if filename == "~":  # a C function: numpy's, or a Python built-in
        return "numpy" if "numpy" in name else "Python built-ins"
    parts = Path(filename).parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for package in ("matching_service", "mentorship_shared", "benchmarks"):
        if package in parts:
            return package
    return "Python standard library"


def _function_label(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name.strip("<>")
    path = Path(filename)
    parts = path.parts
    if "matching_service" in parts:
        dotted = ".".join([*parts[parts.index("matching_service") : -1], path.stem])
        label = f"{dotted}.{name}"
        if name.startswith("<"):  # a comprehension: show its line of code
            code = linecache.getline(filename, line).strip()
            label = f"{dotted}:{line} `{code}`"
        return label
    if "site-packages" in parts:
        module = [*parts[parts.index("site-packages") + 1 : -1], path.stem]
        return ".".join([*module, name])
    return f"{path.stem}.{name}"


# --- a synthetic population ----------------------------------------------------------------

# UTC offsets are read at one fixed instant (northern winter), so a run does not depend on the
# date: New York is -5, Berlin +1, Kolkata +5.5, Tokyo +9.
REFERENCE_INSTANT = datetime(2026, 1, 15, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Zone:
    name: str  # IANA
    language: str | None  # the local second language people there add, if one of ours
    mentee_weight: float  # engineers: many in India, Europe and the US
    mentor_weight: float  # product managers: more in the US and Europe


ZONES = (
    Zone("America/Los_Angeles", None, 7, 10),
    Zone("America/Denver", None, 1, 2),
    Zone("America/Chicago", None, 3, 4),
    Zone("America/New_York", None, 7, 10),
    Zone("America/Toronto", None, 2, 3),
    Zone("America/Mexico_City", "es", 2, 1),
    Zone("America/Bogota", "es", 1, 1),
    Zone("America/Sao_Paulo", "pt", 4, 2),
    Zone("America/Argentina/Buenos_Aires", "es", 1, 1),
    Zone("Europe/London", None, 6, 8),
    Zone("Europe/Dublin", None, 1, 2),
    Zone("Europe/Lisbon", "pt", 1, 1),
    Zone("Europe/Madrid", "es", 2, 2),
    Zone("Europe/Paris", "fr", 3, 4),
    Zone("Europe/Berlin", "de", 5, 6),
    Zone("Europe/Amsterdam", None, 2, 3),
    Zone("Europe/Stockholm", None, 1, 2),
    Zone("Europe/Warsaw", None, 3, 1),
    Zone("Asia/Kolkata", "hi", 16, 7),
    Zone("Asia/Singapore", None, 3, 3),
    Zone("Asia/Shanghai", None, 3, 1),
    Zone("Asia/Tokyo", "ja", 3, 3),
    Zone("Asia/Seoul", None, 1, 1),
)
SECOND_LANGUAGES = ("de", "fr", "es", "pt", "hi", "ja")
NO_ENGLISH_SHARE = 0.05  # speak only their second language
SECOND_LANGUAGE_SHARE = 0.22  # speak English and a second language

INDUSTRIES = {
    "saas": 3.0,
    "fintech": 2.5,
    "e-commerce": 2.0,
    "healthtech": 1.5,
    "gaming": 1.0,
    "edtech": 1.0,
    "mobility": 1.0,
    "media": 1.0,
}
TARGET_ROLES: tuple[str | None, ...] = (
    "Associate PM",
    "Product manager",
    "Technical PM",
    "Senior PM",
    None,
)
TARGET_ROLE_WEIGHTS = (0.20, 0.35, 0.20, 0.10, 0.15)

# Share of mentors strong (level 4-5) in each skill: some strengths are everywhere among
# product managers, others rare. technical_depth depends on whether the mentor was an engineer.
MENTOR_STRONG_SHARE = {
    "customer_insight": 0.30,
    "market_competition": 0.12,
    "pricing_monetisation": 0.05,
    "stakeholder_communication": 0.35,
    "product_strategy": 0.20,
    "roadmap_prioritisation": 0.35,
    "product_metrics": 0.40,
    "ux_feasibility": 0.20,
    "cross_functional_leadership": 0.25,
    "go_to_market": 0.05,
    "technical_depth": 0.15,
    "product_delivery": 0.35,
    "problem_framing": 0.25,
    "career_navigation": 0.15,
}
WAS_ENGINEER_SHARE = 0.40
FULL_CAPACITY_WEIGHTS = (0.40, 0.30, 0.15, 0.10, 0.05)  # capacity 1..5, skewed to 1-2
SMALL_CAPACITY_WEIGHTS = (0.50, 0.30, 0.20)  # capacity 1..3
MENTEE_LIMIT_SHARE = 1 / 3  # mentees with a max_timezone_difference_hours of 3-8

# Mentees' current level per skill group: engineers arrive with the 'bring' skills and need
# to build the rest. Gaps fall mostly on 'build' and 'career' skills.
CURRENT_LEVELS = {
    "bring": ((1, 2, 3, 4), (0.10, 0.30, 0.40, 0.20)),
    "build": ((0, 1, 2, 3), (0.30, 0.40, 0.25, 0.05)),
    "career": ((0, 1, 2), (0.50, 0.35, 0.15)),
}
GAP_COUNTS = ((2, 3, 4, 5, 6), (0.15, 0.25, 0.25, 0.20, 0.15))
GAP_GROUP_WEIGHT = {"bring": 1.0, "build": 3.0, "career": 3.0}

SKILL_GROUPS = np.array([TAXONOMY.by_id(skill).group for skill in SKILL_IDS])


def _probabilities(weights: Sequence[float]) -> FloatArray:
    array = np.asarray(weights, dtype=np.float64)
    share: FloatArray = array / array.sum()
    return share


def _weighted_subsets(rng: np.random.Generator, weights: FloatArray, counts: IntArray) -> BoolArray:
    """(rows, items) membership: row i is a weighted sample of counts[i] items without
    replacement (Efraimidis-Spirakis keys, so all rows are drawn at once)."""
    keys = rng.random((counts.size, weights.size)) ** (1.0 / weights)
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen: BoolArray = rank < counts[:, None]
    return chosen


class _Interned:
    """One frozenset per distinct set of codes, shared by every profile that has it."""

    def __init__(self) -> None:
        self._sets: dict[tuple[str, ...], frozenset[str]] = {}

    def __call__(self, codes: Sequence[str]) -> frozenset[str]:
        key = tuple(sorted(codes))
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = frozenset(key)
        return found


def _places(
    rng: np.random.Generator, n: int, mentors: bool, interned: _Interned
) -> tuple[FloatArray, list[frozenset[str]]]:
    """UTC offsets and spoken languages of n people."""
    weights = [zone.mentor_weight if mentors else zone.mentee_weight for zone in ZONES]
    zone_of = rng.choice(len(ZONES), size=n, p=_probabilities(weights))
    offsets = np.array([utc_offset_hours(zone.name, REFERENCE_INSTANT) for zone in ZONES])
    draw = rng.random(n)
    any_second = rng.choice(len(SECOND_LANGUAGES), size=n)
    languages = []
    for i in range(n):
        second = ZONES[zone_of[i]].language or SECOND_LANGUAGES[any_second[i]]
        if draw[i] < NO_ENGLISH_SHARE:
            languages.append(interned([second]))
        elif draw[i] < NO_ENGLISH_SHARE + SECOND_LANGUAGE_SHARE:
            languages.append(interned(["en", second]))
        else:
            languages.append(interned(["en"]))
    return offsets[zone_of], languages


def _industries(
    rng: np.random.Generator, counts: IntArray, interned: _Interned
) -> list[frozenset[str]]:
    names = list(INDUSTRIES)
    chosen = _weighted_subsets(rng, _probabilities(list(INDUSTRIES.values())), counts)
    return [interned([names[j] for j in np.flatnonzero(row)]) for row in chosen]


def make_mentors(
    rng: np.random.Generator,
    n: int,
    capacity_weights: Sequence[float],
    id_prefix: int,
) -> list[Mentor]:
    interned = _Interned()
    was_engineer = rng.random(n) < WAS_ENGINEER_SHARE
    share = np.array([MENTOR_STRONG_SHARE.get(skill, 0.2) for skill in SKILL_IDS])
    chance = np.tile(share, (n, 1))
    if "technical_depth" in SKILL_IDS:  # former engineers keep their technical depth
        column = SKILL_IDS.index("technical_depth")
        chance[:, column] = np.where(was_engineer, 0.30, 0.05)
    strong = rng.random((n, N_SKILLS)) < chance
    # Every mentor is strong somewhere: mentors without a strength get one common strength.
    weak = np.flatnonzero(~strong.any(axis=1))
    strong[weak, rng.choice(N_SKILLS, size=weak.size, p=_probabilities(list(share)))] = True
    strong_level = np.where(rng.random((n, N_SKILLS)) < 0.55, 4, 5)
    other_level = rng.choice(4, size=(n, N_SKILLS), p=(0.10, 0.25, 0.40, 0.25))
    levels = np.where(strong, strong_level, other_level).astype(np.float64)
    capacity = rng.choice(len(capacity_weights), size=n, p=_probabilities(capacity_weights)) + 1
    industries = _industries(rng, rng.choice(3, size=n, p=(0.4, 0.4, 0.2)) + 1, interned)
    offsets, languages = _places(rng, n, True, interned)
    return [
        Mentor(
            id=uuid.UUID(int=(id_prefix << 64) | i),
            languages=languages[i],
            strengths=levels[i],
            was_engineer=bool(was_engineer[i]),
            industries=industries[i],
            utc_offset_hours=float(offsets[i]),
            free_slots=int(capacity[i]),
        )
        for i in range(n)
    ]


def make_mentees(rng: np.random.Generator, n: int, id_prefix: int) -> list[Mentee]:
    interned = _Interned()
    current = np.zeros((n, N_SKILLS))
    for group, (levels, weights) in CURRENT_LEVELS.items():
        columns = np.flatnonzero(np.equal(SKILL_GROUPS, group))
        current[:, columns] = rng.choice(levels, size=(n, columns.size), p=weights)
    gap_counts = rng.choice(GAP_COUNTS[0], size=n, p=GAP_COUNTS[1])
    group_weight = np.array([GAP_GROUP_WEIGHT[str(group)] for group in SKILL_GROUPS])
    on_gap = _weighted_subsets(rng, group_weight, gap_counts)
    # A target of 3-5 above the current level (current levels stop at 4).
    lowest = np.maximum(3.0, current + 1.0)
    raised = lowest + np.floor(rng.random((n, N_SKILLS)) * (6.0 - lowest))
    target = np.where(on_gap, raised, current)
    limited = rng.random(n) < MENTEE_LIMIT_SHARE
    limits = rng.integers(3, 9, size=n)
    roles = rng.choice(len(TARGET_ROLES), size=n, p=TARGET_ROLE_WEIGHTS)
    industries = _industries(rng, rng.choice(3, size=n, p=(0.3, 0.5, 0.2)), interned)
    offsets, languages = _places(rng, n, False, interned)
    return [
        Mentee(
            id=uuid.UUID(int=(id_prefix << 64) | i),
            languages=languages[i],
            current=current[i],
            target=target[i],
            target_role=TARGET_ROLES[roles[i]],
            industries=industries[i],
            utc_offset_hours=float(offsets[i]),
            max_timezone_difference_hours=int(limits[i]) if limited[i] else None,
        )
        for i in range(n)
    ]


def describe_population(mentees: Sequence[Mentee], mentors: Sequence[Mentor]) -> dict[str, Any]:
    """What was generated, measured on the profiles themselves."""
    strengths = np.vstack([m.strengths for m in mentors])
    strong_share = (strengths >= 4).mean(axis=0)
    gaps = np.vstack([np.clip(m.target - m.current, 0, None) for m in mentees])
    capacity = np.array([m.free_slots for m in mentors])
    return {
        "gaps_per_mentee_mean": float((gaps > 0).sum(axis=1).mean()),
        "gap_share_by_group": {
            group: float(
                (gaps[:, np.equal(SKILL_GROUPS, group)] > 0).sum() / max((gaps > 0).sum(), 1)
            )
            for group in ("bring", "build", "career")
        },
        "mentor_strong_share": {skill: float(strong_share[i]) for i, skill in enumerate(SKILL_IDS)},
        "strengths_per_mentor_mean": float((strengths >= 4).sum(axis=1).mean()),
        "mentees_without_english": float(np.mean(["en" not in m.languages for m in mentees])),
        "mentees_with_second_language": float(np.mean([len(m.languages) > 1 for m in mentees])),
        "mentors_without_english": float(np.mean(["en" not in m.languages for m in mentors])),
        "mentees_with_timezone_limit": float(
            np.mean([m.max_timezone_difference_hours is not None for m in mentees])
        ),
        "mentor_capacity_mean": float(capacity.mean()),
        "mentor_slots": int(capacity.sum()),
        "mentors_was_engineer": float(np.mean([m.was_engineer for m in mentors])),
    }


# --- (a) shortlists ------------------------------------------------------------------------


def bench_shortlists(
    sizes: Sizes, mentees: Sequence[Mentee], mentors: Sequence[Mentor], rng: np.random.Generator
) -> tuple[dict[str, Any], MentorPool]:
    k = sizes.shortlist
    pool, pool_seconds = timed(lambda: MentorPool(mentors))
    exposure = np.zeros(len(pool), dtype=np.intp)
    chosen: list[IntArray] = []
    # One call per chunk of whole blocks with one shared exposure array (updated in place):
    # the same result as one call over every mentee, with room for a progress line.
    chunk = sizes.block * 20
    last_start = 0
    before_last = exposure.copy()
    started = time.perf_counter()
    with progress("(a) shortlists", len(mentees)) as bar:
        for start in range(0, len(mentees), chunk):
            batch = mentees[start : start + chunk]
            if start + chunk >= len(mentees):  # the exposure the last mentees met, for profiling
                last_start = start
                before_last = exposure.copy()
            result = shortlists(
                batch,
                pool,
                k,
                exposure=exposure,
                exposure_per_slot=sizes.exposure_per_slot,
                block=sizes.block,
            )
            chosen.append(result.mentors)
            bar.advance(len(batch))
    shortlist_seconds = time.perf_counter() - started
    shown = np.vstack(chosen) if chosen else np.zeros((0, k), dtype=np.intp)

    # Anchor: the bare product one skill component needs, in the same blocks.
    table = np.ascontiguousarray(rng.random((N_SKILLS * N_LEVELS, sizes.block)))
    tail = np.ascontiguousarray(table[:, : len(mentees) % sizes.block])
    one_hot = pool.one_hot
    _ = one_hot @ table  # warm-up
    anchor_seconds = 0.0
    with progress("(a) anchor products", len(mentees)) as bar:
        for start in range(0, len(mentees), sizes.block):
            block_table = table if start + sizes.block <= len(mentees) else tail
            began = time.perf_counter()
            _ = one_hot @ block_table
            anchor_seconds += time.perf_counter() - began
            bar.advance(block_table.shape[1])

    # Explanations for every shown pair, as the round does it: score the block again for the
    # breakdown, then proposal_for (covered gaps and the sentence) per pair.
    rescore_seconds = 0.0
    proposal_seconds = 0.0
    explained = 0
    with_list = np.flatnonzero(shown[:, 0] >= 0)
    with progress("(a) explanations", int(with_list.size)) as bar:
        for start in range(0, with_list.size, sizes.block):
            rows = with_list[start : start + sizes.block]
            batch = [mentees[row] for row in rows]
            began = time.perf_counter()
            scores = pool.score(batch)
            rescore_seconds += time.perf_counter() - began
            began = time.perf_counter()
            for i, row in enumerate(rows):
                for column in shown[row]:
                    if column < 0:
                        break
                    proposal_for(batch[i], pool, scores, i, int(column))
                    explained += 1
            proposal_seconds += time.perf_counter() - began
            bar.advance(rows.size)

    lengths = (shown >= 0).sum(axis=1)
    limit = pool.free_slots * sizes.exposure_per_slot
    empty = np.flatnonzero(lengths == 0)

    # Mentees left with an empty list: could anyone have been shown? Checked on a sample
    # against the final exposure (the fullest it got, so this undercounts).
    sample = np.sort(rng.choice(empty, size=min(empty.size, 4 * sizes.block), replace=False))
    could = 0
    nobody = 0
    for start in range(0, sample.size, sizes.block):
        batch = [mentees[row] for row in sample[start : start + sizes.block]]
        scores, allowed = pool.evaluate(batch)
        teachable = allowed & (scores.total > 0)
        nobody += int((~teachable.any(axis=1)).sum())
        could += int((teachable & (exposure < limit)[None, :]).any(axis=1).sum())

    note("  (a) profiling shortlists and proposal_for on a sample ...")
    profiled = 8 * sizes.block

    def profile_shortlists(first: int, seen: IntArray) -> dict[str, Any]:
        return profile(
            lambda: shortlists(
                mentees[first : first + profiled],
                pool,
                k,
                exposure=seen.copy(),
                exposure_per_slot=sizes.exposure_per_slot,
                block=sizes.block,
            )
        )

    # The first mentees meet every mentor below the limit; the last ones, the exposure the run
    # left them. Their costs differ, so both are profiled.
    early_profile = profile_shortlists(0, np.zeros(len(pool), dtype=np.intp))
    late_profile = profile_shortlists(last_start, before_last)
    proposal_profile = profile(lambda: _explain_some(mentees, pool, shown, with_list, sizes))
    tenth = max(1, len(mentees) // 10)
    figures = {
        "mentees": len(mentees),
        "mentors": len(mentors),
        "k": k,
        "tenth": tenth,
        "empty_in_first_tenth": int((lengths[:tenth] == 0).sum()),
        "empty_in_last_tenth": int((lengths[-tenth:] == 0).sum()),
        "pairs_in_first_tenth": int(lengths[:tenth].sum()),
        "blocks": math.ceil(len(mentees) / sizes.block),
        "pool_seconds": pool_seconds,
        "shortlist_seconds": shortlist_seconds,
        "anchor_seconds": anchor_seconds,
        "rescore_seconds": rescore_seconds,
        "proposal_seconds": proposal_seconds,
        "pairs_shown": int(lengths.sum()),
        "pairs_explained": explained,
        "mentees_full_list": int((lengths == k).sum()),
        "mentees_partial_list": int(((lengths > 0) & (lengths < k)).sum()),
        "mentees_empty_list": int(empty.size),
        "first_empty_list": int(empty[0]) if empty.size else None,
        "exposure_limit_total": int(limit.sum()),
        "exposure_used": int(exposure.sum()),
        "mentors_at_exposure_limit": int((exposure >= limit).sum()),
        "mentors_shown": int((exposure > 0).sum()),
        "empty_sample": int(sample.size),
        "empty_sample_could_be_shown": could,
        "empty_sample_nobody_eligible": nobody,
        "depth": min(len(pool), 4 * k),
        "profile_mentees": min(len(mentees), profiled),
        "late_profile_first": last_start,
        "late_profile_mentees": min(len(mentees) - last_start, profiled),
        "early_profile": early_profile,
        "late_profile": late_profile,
        "proposal_profile": proposal_profile,
    }
    return figures, pool


def _explain_some(
    mentees: Sequence[Mentee], pool: MentorPool, shown: IntArray, rows: IntArray, sizes: Sizes
) -> None:
    """proposal_for on the shown pairs of the first mentees with a list (about 2,000 pairs)."""
    rows = rows[: 2_000 // sizes.shortlist]
    batch = [mentees[row] for row in rows]
    scores = pool.score(batch)
    for i, row in enumerate(rows):
        for column in shown[row]:
            if column >= 0:
                proposal_for(batch[i], pool, scores, i, int(column))


# --- (b) one online match ------------------------------------------------------------------


def _percentiles(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "samples": len(values),
    }


def bench_online(
    sizes: Sizes,
    pool: MentorPool,
    mentors: Sequence[Mentor],
    newcomers: Sequence[Mentee],
    rng: np.random.Generator,
) -> dict[str, Any]:
    vector = rng.random(N_SKILLS * N_LEVELS)

    def anchor_products() -> list[float]:
        for _ in range(5):
            _ = pool.one_hot @ vector  # warm-up
        seconds = []
        for _ in range(max(500, 5 * len(newcomers))):
            began = time.perf_counter()
            _ = pool.one_hot @ vector
            seconds.append(time.perf_counter() - began)
        return seconds

    found: list[int] = []

    def matches(label: str) -> list[float]:
        rank_mentors(newcomers[0], pool, limit=sizes.shortlist)  # warm-up
        seconds = []
        found.clear()
        with progress(label, len(newcomers)) as bar:
            for mentee in newcomers:
                began = time.perf_counter()
                proposals = rank_mentors(mentee, pool, limit=sizes.shortlist)
                seconds.append(time.perf_counter() - began)
                found.append(len(proposals))
                bar.advance()
        return seconds

    anchor = anchor_products()
    prebuilt = matches("(b1) online, pool prebuilt")
    # The same with BLAS on one thread: small products pay for waking BLAS threads, and a
    # lot more when other work keeps the cores busy.
    with threadpool_limits(limits=1, user_api="blas"):
        anchor_one_thread = anchor_products()
        prebuilt_one_thread = matches("(b1) online, pool prebuilt, 1 BLAS thread")

    with_pool = []
    pool_only = []
    with progress("(b2) online, pool built per match", len(newcomers)) as bar:
        for mentee in newcomers:
            began = time.perf_counter()
            fresh = MentorPool(mentors)
            built = time.perf_counter()
            rank_mentors(mentee, fresh, limit=sizes.shortlist)
            with_pool.append(time.perf_counter() - began)
            pool_only.append(built - began)
            bar.advance()

    note("  (b) profiling one match and the pool construction ...")
    some = newcomers[:50]
    match_profile = profile(lambda: [rank_mentors(m, pool, limit=sizes.shortlist) for m in some])
    pool_profile = profile(lambda: [MentorPool(mentors) for _ in range(5)])
    counts = np.array(found)
    return {
        "match_profile": match_profile,
        "match_profile_samples": len(some),
        "pool_profile": pool_profile,
        "mentors": len(pool),
        "blas_threads": _blas_threads(),
        "anchor": _percentiles(anchor),
        "prebuilt": _percentiles(prebuilt),
        "anchor_one_thread": _percentiles(anchor_one_thread),
        "prebuilt_one_thread": _percentiles(prebuilt_one_thread),
        "with_pool": _percentiles(with_pool),
        "pool_construction": _percentiles(pool_only),
        "proposals_full": int((counts == sizes.shortlist).sum()),
        "proposals_none": int((counts == 0).sum()),
    }


def _blas_threads() -> int | None:
    for library in threadpool_info():
        if library.get("user_api") == "blas":
            threads: int = library["num_threads"]
            return threads
    return None


# --- (c) cohort round ----------------------------------------------------------------------


def _load(assignment: Assignment, capacity: IntArray) -> dict[str, int]:
    load = assignment.mentor_load(capacity.size)
    return {
        "full": int(((load == capacity) & (capacity > 0)).sum()),
        "partly_used": int(((load > 0) & (load < capacity)).sum()),
        "unused": int(((load == 0) & (capacity > 0)).sum()),
        "slots_used": int(load.sum()),
    }


def _outcome(assignment: Assignment, capacity: IntArray) -> dict[str, Any]:
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
        "optimal": _outcome(optimal, capacity),
        "greedy": _outcome(greedy, capacity),
        "gain_percent": _gain(optimal, greedy),
    }


def _gain(better: Assignment, base: Assignment) -> float:
    if base.total_score <= 0:
        return 0.0
    return (better.total_score / base.total_score - 1.0) * 100.0


def _against_exact(
    mentees: Sequence[Mentee], mentors: Sequence[Mentor], ks: Sequence[int]
) -> dict[str, Any]:
    """One cohort: the exact optimum on every allowed pair, the optimum on each mentee's top-k
    (the sparse solver, as a large round uses), and first-come greedy."""
    pool = MentorPool(mentors)
    scores, allowed = pool.evaluate(mentees)
    capacity = pool.free_slots.copy()
    full = CandidateGraph.from_dense(scores.total, allowed)
    exact = assign_optimal(full, capacity)
    result: dict[str, Any] = {
        "exact": _outcome(exact, capacity),
        "edges": full.n_edges,
        "top_k": {},
    }
    for k in ks:
        top = CandidateGraph.top_k(scores.total, allowed, k)
        result["top_k"][k] = _outcome(assign_optimal(top, capacity, dense_slot_limit=0), capacity)
    widest = CandidateGraph.top_k(scores.total, allowed, max(ks))
    result["greedy_full"] = _outcome(assign_greedy(full, capacity), capacity)
    result["greedy_top_k"] = _outcome(assign_greedy(widest, capacity), capacity)
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
            small.append(_against_exact(mentees, mentors, SMALL_COHORT_K))
            bar.advance()
    check = None
    if sizes.check_mentees and sizes.check_mentors:
        note(
            f"  (c) {sizes.check_mentees:,} x {sizes.check_mentors:,} against the exact optimum ..."
        )
        mentors = make_mentors(rng, sizes.check_mentors, FULL_CAPACITY_WEIGHTS, 98)
        mentees = make_mentees(rng, sizes.check_mentees, 99)
        check = _against_exact(mentees, mentors, (sizes.round_candidates,))

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
        "cohort_results": small,
        "check": None
        if check is None
        else {
            "mentees": sizes.check_mentees,
            "mentors": sizes.check_mentors,
            "k": sizes.round_candidates,
            **check,
        },
    }


# --- the machine ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 2**20
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    blas = "unknown"
    try:
        config: Any = np.show_config(mode="dicts")
        found = config["Build Dependencies"]["blas"]
        blas = f"{found['name']} {found['version']}"
    except (TypeError, KeyError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_threads": _blas_threads(),
        "scipy": scipy.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


# --- the report ----------------------------------------------------------------------------


def _time(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _ms(value: float) -> str:
    return _time(value / 1000.0)


def _share(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:,.1f}x" if denominator > 0 else "n/a"


def _profile_table(
    add: Callable[[str], None], figures: dict[str, Any], cumulative: bool = False, top: int = 6
) -> None:
    rows = figures["cumulative" if cumulative else "functions"][:top]
    if cumulative:
        add("| function, with what it calls (nested rows overlap) | share |")
    else:
        add("| function (own time) | share |")
    add("|---|---:|")
    for row in rows:
        label = row["function"].replace("|", "\\|")
        add(f"| {label} | {row['share']:.0%} |")
    if not cumulative:
        add(f"| everything else | {1.0 - sum(row['share'] for row in rows):.0%} |")
    add("")
    add("By package: " + _packages(figures) + ".")


def _packages(figures: dict[str, Any]) -> str:
    shown = [row for row in figures["packages"] if row["share"] >= 0.01]
    return ", ".join(f"{row['package']} {row['share']:.0%}" for row in shown)


def render(sizes: Sizes, command: str, figures: dict[str, Any], population: dict[str, Any]) -> str:
    host = figures["machine"]
    a = figures["shortlists"]
    b = figures["online"]
    c = figures["cohort"]
    e = figures["exactness"]
    lines: list[str] = []
    add = lines.append
    add("# Matching benchmark")
    add("")
    add(
        f"Written by `make bench-matching` (`{command}`). One run's wall-clock figures on the "
        "machine below; nothing here is a pass/fail threshold. Each part is set against an "
        "anchor measured in the same process: the bare numpy matrix product of the shape the "
        "scoring works on (mentors one-hot by level, "
        f"{N_SKILLS} skills x {N_LEVELS} levels = {N_SKILLS * N_LEVELS} columns), so the "
        "ratios say how far the matcher is from arithmetic it cannot avoid. Score "
        f"`{ALGORITHM_VERSION}`, weights `{figures['weights_version']}`."
    )
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| CPU | {host['cpu']} |")
    cores = f"{host['cores']}" + (
        f" ({host['cores_usable']} usable)"
        if host["cores_usable"] not in (None, host["cores"])
        else ""
    )
    add(f"| cores | {cores} |")
    if host["ram_gib"] is not None:
        add(f"| RAM | {host['ram_gib']:.0f} GiB |")
    add(f"| OS | {host['os']} |")
    add(f"| Python | {host['python']} |")
    add(
        f"| numpy | {host['numpy']} (BLAS: {host['blas']}, "
        f"{host['blas_threads'] or 'default'} threads) |"
    )
    add(f"| scipy | {host['scipy']} |")
    add(f"| date | {host['date']} |")
    if host["load_average"] is not None:
        add(
            f"| load average (1 min) at start / end | {figures['load_at_start']:.1f} / "
            f"{host['load_average']:.1f} (other work on the machine slows every figure) |"
        )
    add("")
    add("## Population")
    add("")
    add(
        f"Seed {sizes.seed}; every part draws its own people from it, so a part's population "
        "does not change when another part's size does. UTC offsets are read at "
        f"{REFERENCE_INSTANT:%Y-%m-%d %H:%M} UTC (northern winter) from a weighted list of "
        f"{len(ZONES)} IANA zones across the Americas, Europe, India and East Asia; engineers "
        "weigh more towards India, product managers towards the US and Europe."
    )
    add("")
    add("| part | mentees | mentors | mentor capacity |")
    add("|---|---:|---:|---|")
    add(f"| (a) shortlists | {a['mentees']:,} | {a['mentors']:,} | 1-5, mostly 1-2 |")
    add(
        f"| (b) online matches | {sizes.online:,} new, one at a time"
        f" | {b['mentors']:,} (as in a) | 1-5 |"
    )
    add(f"| (c) cohort round | {c['mentees']:,} | {c['mentors']:,} | 1-5, mostly 1-2 |")
    add(f"| (c) small cohorts | {e['cohorts']} x {e['mentees']} | {e['mentors']} each | 1-3 |")
    if e["check"] is not None:
        add(
            f"| (c) exactness check | {e['check']['mentees']:,} | {e['check']['mentors']:,} | 1-5 |"
        )
    add("")
    strong = population["mentor_strong_share"]
    by_group = population["gap_share_by_group"]
    add("Measured on the population of (a):")
    add("")
    add("| trait | value |")
    add("|---|---|")
    add(
        f"| skill gaps per mentee (target 3-5 above the current level) | "
        f"{population['gaps_per_mentee_mean']:.1f} on average (2-6); "
        f"{_share(by_group['build'])} on 'build' skills, {_share(by_group['career'])} on "
        f"'career', {_share(by_group['bring'])} on 'bring' |"
    )
    add(
        f"| mentors strong (4-5) per skill | "
        f"{population['strengths_per_mentor_mean']:.1f} strong skills per mentor; "
        + ", ".join(
            f"{TAXONOMY.by_id(skill).short_name} {_share(strong[skill])}"
            for skill in sorted(strong, key=lambda s: strong[s])
        )
        + " |"
    )
    add(
        f"| languages | {_share(population['mentees_with_second_language'])} of mentees speak a "
        f"second language ({', '.join(SECOND_LANGUAGES)}), "
        f"{_share(population['mentees_without_english'])} no English "
        f"(mentors: {_share(population['mentors_without_english'])}) |"
    )
    add(
        f"| timezone limit | {_share(population['mentees_with_timezone_limit'])} of mentees "
        "accept at most 3-8 hours apart |"
    )
    add(
        f"| mentors | capacity {population['mentor_capacity_mean']:.1f} on average "
        f"({population['mentor_slots']:,} slots); "
        f"{_share(population['mentors_was_engineer'])} were engineers |"
    )
    add(
        f"| target roles | {', '.join(str(role) for role in TARGET_ROLES)} "
        f"({', '.join(_share(w) for w in TARGET_ROLE_WEIGHTS)}); industries: "
        f"{len(INDUSTRIES)}, mentees 0-2, mentors 1-3 |"
    )
    add("")

    # (a)
    explain_seconds = a["rescore_seconds"] + a["proposal_seconds"]
    add(
        f"## (a) Top-{a['k']} shortlists for {a['mentees']:,} mentees against {a['mentors']:,} mentors"
    )
    add("")
    add(
        f"`domain.shortlists` with the hard constraints (shared language, free slot, timezone "
        f"limit) and the exposure limit ({sizes.exposure_per_slot} shortlists per free slot), "
        f"{sizes.block} mentees per block; then `proposal_for` for every pair shown, after "
        "scoring the block again for the breakdown, as a cohort round does."
    )
    add("")
    add("| step | time | rate |")
    add("|---|---:|---:|")
    add(f"| `MentorPool` from {a['mentors']:,} mentors | {_time(a['pool_seconds'])} | |")
    add(
        f"| `shortlists` (scores, constraints, exposure, top-{a['k']}) | "
        f"{_time(a['shortlist_seconds'])} | "
        f"{a['mentees'] / a['shortlist_seconds']:,.0f} mentees/s |"
    )
    add(
        f"| anchor: bare ({a['mentors']:,} x {N_SKILLS * N_LEVELS}) @ "
        f"({N_SKILLS * N_LEVELS} x {sizes.block}) products, same {a['blocks']:,} blocks | "
        f"{_time(a['anchor_seconds'])} | |"
    )
    add(
        f"| **shortlists / anchor** | **{_ratio(a['shortlist_seconds'], a['anchor_seconds'])}** "
        f"| the score needs {len(('similarity', 'coverage', 'rare_reach', 'rare_unused'))} such "
        "products (one per skill component) |"
    )
    add(
        f"| explanations: scoring the {a['mentees'] - a['mentees_empty_list']:,} mentees with a "
        f"list again | {_time(a['rescore_seconds'])} | |"
    )
    per_pair = a["proposal_seconds"] / a["pairs_explained"] if a["pairs_explained"] else 0.0
    add(
        f"| explanations: `proposal_for` for {a['pairs_explained']:,} pairs | "
        f"{_time(a['proposal_seconds'])} | {_time(per_pair)} per pair |"
    )
    total_a = a["shortlist_seconds"] + explain_seconds
    add(
        f"| **shortlists and explanations** | **{_time(total_a)}** | "
        f"{a['mentees'] / total_a:,.0f} mentees/s |"
    )
    add("")
    add("| outcome | |")
    add("|---|---:|")
    add(f"| mentees with a full list of {a['k']} | {a['mentees_full_list']:,} |")
    add(f"| mentees with 1-{a['k'] - 1} mentors | {a['mentees_partial_list']:,} |")
    add(f"| mentees with an empty list | {a['mentees_empty_list']:,} |")
    if a["first_empty_list"] is not None:
        add(f"| first mentee (in serving order) with an empty list | #{a['first_empty_list']:,} |")
    add(
        f"| empty lists among the first / last {a['tenth']:,} mentees served | "
        f"{a['empty_in_first_tenth']:,} / {a['empty_in_last_tenth']:,} |"
    )
    add(f"| pairs shown | {a['pairs_shown']:,} of {a['mentees'] * a['k']:,} |")
    add(
        f"| exposure used / allowed (free slots x {sizes.exposure_per_slot}) | "
        f"{a['exposure_used']:,} / {a['exposure_limit_total']:,} |"
    )
    add(
        f"| mentors shown at least once / at their exposure limit | "
        f"{a['mentors_shown']:,} / {a['mentors_at_exposure_limit']:,} of {a['mentors']:,} |"
    )
    if a["empty_sample"]:
        add(
            f"| of {a['empty_sample']:,} mentees sampled from the empty lists: an eligible mentor "
            "who can teach part of the gap was still below the exposure limit at the end / no "
            f"eligible mentor at all | {a['empty_sample_could_be_shown']:,} / "
            f"{a['empty_sample_nobody_eligible']:,} |"
        )
    add("")
    early, late = a["early_profile"], a["late_profile"]
    add(
        f"Where the time of `shortlists` goes (cProfile), for the first {a['profile_mentees']:,} "
        f"mentees served ({_time(early['seconds'])} profiled, "
        f"{_time(early['seconds'] / a['profile_mentees'])} a mentee):"
    )
    add("")
    _profile_table(add, early)
    add("")
    add(
        f"and for mentees #{a['late_profile_first']:,} to "
        f"#{a['late_profile_first'] + a['late_profile_mentees'] - 1:,}, with the exposure the run "
        f"had left them ({_time(late['seconds'])} profiled, "
        f"{_time(late['seconds'] / a['late_profile_mentees'])} a mentee):"
    )
    add("")
    _profile_table(add, late)
    add("")
    add(
        "Where the time of the explanations goes (`proposal_for` on about 2,000 pairs, with "
        f"their block's scoring, {_time(a['proposal_profile']['seconds'])} profiled):"
    )
    add("")
    _profile_table(add, a["proposal_profile"], cumulative=True)
    add("")

    # (b)
    anchor = b["anchor"]
    add(f"## (b) One online match against {b['mentors']:,} mentors")
    add("")
    add(
        f"{sizes.online:,} new mentees, one at a time: `rank_mentors(mentee, pool, "
        f"limit={sizes.shortlist})` (scores, constraints, ranking and {sizes.shortlist} "
        "explanations). (b1) keeps the pool built, as the service's `MentorDirectory` does "
        "between proposals (it rebuilds only the mentors whose rows changed); (b2) builds the "
        "`MentorPool` from the mentors for each proposal, as the service did before the "
        "directory, and shows what that cache saves."
    )
    add("")
    threads = b["blas_threads"] or "default"
    add("| | BLAS threads | p50 | p99 | mean | p50 / anchor p50 |")
    add("|---|---:|---:|---:|---:|---:|")
    product = f"({b['mentors']:,} x {N_SKILLS * N_LEVELS}) @ ({N_SKILLS * N_LEVELS},)"
    rows_b = (
        (f"anchor: one bare {product} product ({anchor['samples']:,} runs)", threads, "anchor"),
        ("(b1) pool prebuilt", threads, "prebuilt"),
        (
            f"(b2) `MentorPool` from {b['mentors']:,} `Mentor` objects, then the match",
            threads,
            "with_pool",
        ),
        ("of which `MentorPool` construction", threads, "pool_construction"),
        (f"anchor: one bare {product} product", 1, "anchor_one_thread"),
        ("(b1) pool prebuilt", 1, "prebuilt_one_thread"),
    )
    for label, thread_count, key in rows_b:
        row = b[key]
        base = b["anchor_one_thread" if thread_count == 1 else "anchor"]
        add(
            f"| {label} | {thread_count} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
            f"{_ms(row['mean_ms'])} | {_ratio(row['p50_ms'], base['p50_ms'])} |"
        )
    add("")
    add(
        f"{b['proposals_full']:,} of {sizes.online:,} new mentees got {sizes.shortlist} "
        f"proposals; {b['proposals_none']:,} got none (no eligible mentor can teach their gaps)."
    )
    add("")
    add(
        f"Where the time of (b1) goes (cProfile, {b['match_profile_samples']} matches, "
        f"{_time(b['match_profile']['seconds'])} profiled):"
    )
    add("")
    _profile_table(add, b["match_profile"], cumulative=True)
    add("")
    add(
        f"Where the time of `MentorPool` construction goes (5 pools of {b['mentors']:,} "
        f"mentors, {_time(b['pool_profile']['seconds'])} profiled):"
    )
    add("")
    _profile_table(add, b["pool_profile"])
    add("")

    # (c)
    opt, gre = c["optimal"], c["greedy"]
    add(f"## (c) A cohort round: {c['mentees']:,} mentees, {c['mentors']:,} mentors")
    add("")
    add(
        f"{c['slots']:,} free slots. `use_cases.candidate_graph` keeps each mentee's "
        f"{c['per_mentee']} best allowed mentors ({c['edges']:,} edges; "
        f"{c['mentees_without_candidate']:,} mentees have none); `assign_optimal` maximises the "
        "total score within every mentor's slots; `assign_greedy` is first come, first served "
        "on the same graph."
    )
    add("")
    add("| step | time |")
    add("|---|---:|")
    add(f"| candidate graph (top-{c['per_mentee']}) | {_time(c['graph_seconds'])} |")
    add(f"| `assign_optimal` ({opt['method']} solver) | {_time(c['optimal_seconds'])} |")
    add(f"| `assign_greedy` | {_time(c['greedy_seconds'])} |")
    add("")
    add("| | optimal | greedy |")
    add("|---|---:|---:|")
    add(f"| mentees matched | {opt['matched']:,} | {gre['matched']:,} |")
    add(f"| total score | {opt['total_score']:,.1f} | {gre['total_score']:,.1f} |")
    add(f"| mean score per match | {opt['mean_score']:.3f} | {gre['mean_score']:.3f} |")
    add(f"| mentors full | {opt['full']:,} | {gre['full']:,} |")
    add(f"| mentors partly used | {opt['partly_used']:,} | {gre['partly_used']:,} |")
    add(f"| mentors unused | {opt['unused']:,} | {gre['unused']:,} |")
    add(f"| slots used | {opt['slots_used']:,} | {gre['slots_used']:,} |")
    add("")
    add(
        f"Optimal over greedy: **{c['gain_percent']:+.1f}%** total score. "
        f"{c['mentors_without_candidate']:,} mentors ({c['slots_without_candidate']:,} slots) are "
        f"in no mentee's top {c['per_mentee']}, so no assignment on this graph can use them."
    )
    add("")
    add(
        f"Against the exact optimum (every allowed pair, `CandidateGraph.from_dense` + "
        f"`assign_optimal`): {e['cohorts']} cohorts of {e['mentees']} mentees x {e['mentors']} "
        f"mentors (capacity 1-3), on average {e['exact_matched_mean']:.1f} matched by the exact "
        "optimum. Top-k rows use the sparse solver, as a large round does."
    )
    add("")
    add("| assignment | total / exact, mean | worst cohort | matched / exact |")
    add("|---|---:|---:|---:|")
    add("| exact optimum | 1.000 | 1.000 | 1.000 |")
    for k, row in e["top_k"].items():
        add(
            f"| optimum on each mentee's top-{k} | {row['mean']:.3f} | {row['min']:.3f} | "
            f"{row['matched_mean']:.3f} |"
        )
    row = e["greedy_full"]
    add(
        f"| first-come greedy (every allowed pair) | {row['mean']:.3f} | {row['min']:.3f} | "
        f"{row['matched_mean']:.3f} |"
    )
    check = e["check"]
    if check is not None:
        exact = check["exact"]
        add("")
        add(
            f"One larger cohort, {check['mentees']:,} mentees x {check['mentors']:,} mentors "
            f"(capacity 1-5, {check['edges']:,} allowed pairs), top-{check['k']} as in the "
            "round above:"
        )
        add("")
        add("| assignment | matched | total score | total / exact |")
        add("|---|---:|---:|---:|")
        rows = (
            (f"exact optimum ({exact['method']} solver)", exact),
            (f"optimum on each mentee's top-{check['k']}", check["top_k"][check["k"]]),
            (f"first-come greedy on the top-{check['k']}", check["greedy_top_k"]),
            ("first-come greedy (every allowed pair)", check["greedy_full"]),
        )
        for label, outcome in rows:
            add(
                f"| {label} | {outcome['matched']:,} | {outcome['total_score']:,.2f} | "
                f"{outcome['total_score'] / exact['total_score'] if exact['total_score'] else 1.0:.4f} |"
            )
    add("")
    add("## Reading")
    add("")
    add(reading(sizes, figures))
    add("")
    return "\n".join(lines)


def _share_of(figures: dict[str, Any], suffix: str) -> float | None:
    for row in figures["cumulative"]:
        if row["function"].endswith(suffix):
            share: float = row["share"]
            return share
    return None


def reading(sizes: Sizes, figures: dict[str, Any]) -> str:
    """One paragraph on what the figures mean for the product."""
    a = figures["shortlists"]
    b = figures["online"]
    c = figures["cohort"]
    e = figures["exactness"]
    places = a["mentees"] * a["k"]
    text = [
        f"Shortlisting {a['mentees']:,} engineers against {a['mentors']:,} product managers "
        f"took {_time(a['shortlist_seconds'])} ({a['mentees'] / a['shortlist_seconds']:,.0f} "
        f"a second), {_ratio(a['shortlist_seconds'], a['anchor_seconds'])} the bare matrix "
        "product: the four such products the score needs would be about "
        f"{min(1.0, 4 * a['anchor_seconds'] / a['shortlist_seconds']):.0%} of it, and the rest "
        "is array traffic and Python around them (the profile above), not arithmetic."
    ]
    if a["mentees_empty_list"]:
        unused = a["exposure_limit_total"] - a["exposure_used"]
        served = a["mentees"] - a["mentees_empty_list"]
        sentence = (
            f"With {a['mentees'] / a['mentors']:.0f} engineers per mentor, the exposure limit, "
            f"not the computation, decides what people see: the {a['exposure_limit_total']:,} "
            f"showings it allows ({sizes.exposure_per_slot} per free slot) "
            + ("were all taken" if unused == 0 else f"minus {unused:,} unused were taken")
            + f" by {served:,} engineers, and {a['mentees_empty_list']:,} "
            f"({a['mentees_empty_list'] / a['mentees']:.0%}) saw an empty list"
        )
        if unused and a["empty_sample_could_be_shown"]:
            sentence += (
                f", although {a['empty_sample_could_be_shown']:,} of {a['empty_sample']:,} "
                "sampled engineers with an empty list had an eligible mentor below the limit"
            )
        text.append(sentence + ".")
    early, late = a["early_profile"], a["late_profile"]
    early_each = early["seconds"] / max(a["profile_mentees"], 1)
    late_each = late["seconds"] / max(a["late_profile_mentees"], 1)
    if late_each > 1.5 * early_each and late["functions"]:
        hottest = late["functions"][0]
        walk = (
            ", which walks the rest of the ranking one mentor at a time looking for one below "
            "the limit"
            if hottest["function"].endswith("_fill_shortlist")
            else ""
        )
        text.append(
            f"The engineers served last are the expensive ones: {_time(late_each)} each under "
            f"the profiler against {_time(early_each)} for the first, "
            f"{hottest['share']:.0%} of it in `{hottest['function']}`{walk}."
        )
    per_pair = a["proposal_seconds"] / a["pairs_explained"] if a["pairs_explained"] else 0.0
    if per_pair:
        normalize = _share_of(a["proposal_profile"], "scoring.gap_weights")
        where = (
            f", {normalize:.0%} of it in `gap_weights`, the L1 normalisation of one 14-skill row"
            if normalize
            else ""
        )
        text.append(
            f"An explanation costs {_time(per_pair)} a pair{where}; explaining every place of "
            f"full shortlists ({places:,} pairs) would take about {_time(places * per_pair)}."
        )
    pb, pw, pc = b["prebuilt"], b["with_pool"], b["pool_construction"]
    p1 = b["prebuilt_one_thread"]
    one_thread = (
        f"; {_ms(p1['p50_ms'])} (p99 {_ms(p1['p99_ms'])}) with BLAS on one thread, since "
        "waking BLAS threads for four small products costs more than the products"
        if p1["p50_ms"] < 0.8 * pb["p50_ms"]
        else ""
    )
    text.append(
        f"One online match takes {_ms(pb['p50_ms'])} (p99 {_ms(pb['p99_ms'])}) with the pool "
        f"kept built, as the service's mentor directory keeps it{one_thread}; building the "
        f"pool for every proposal instead takes {_ms(pw['p50_ms'])} (p99 "
        f"{_ms(pw['p99_ms'])}), {pc['p50_ms'] / pw['p50_ms']:.0%} of it building the "
        f"`MentorPool` from {b['mentors']:,} `Mentor` objects: the directory makes an online "
        f"match about {pw['p50_ms'] / pb['p50_ms']:.0f}x faster."
    )
    opt, gre = c["optimal"], c["greedy"]
    round_seconds = c["graph_seconds"] + c["optimal_seconds"] + c["greedy_seconds"]
    text.append(
        f"A cohort round for {c['mentees']:,} engineers and {c['mentors']:,} mentors takes "
        f"{_time(round_seconds)} of computation, {c['graph_seconds'] / round_seconds:.0%} of "
        f"it the candidate graph; the optimum matches {opt['matched'] - gre['matched']:+,} "
        f"engineers against first come, first served, scores {c['gain_percent']:+.1f}% in "
        f"total ({opt['mean_score']:.2f} against {gre['mean_score']:.2f} a match) and leaves "
        f"{gre['unused'] - opt['unused']:,} fewer mentors idle."
    )
    check = e["check"]
    if check is not None and check["exact"]["total_score"] > 0:
        kept = check["top_k"][check["k"]]["total_score"] / check["exact"]["total_score"]
        greedy = check["greedy_top_k"]["total_score"] / check["exact"]["total_score"]
        text.append(
            f"Keeping only {check['k']} candidates per engineer costs {1 - kept:.1%} of the "
            f"exact optimum on the {check['mentees']:,} x {check['mentors']:,} check, against "
            f"{1 - greedy:.0%} lost by greedy; but in the large round "
            f"{c['slots'] - opt['matched']:,} slots stay empty while "
            f"{c['mentees'] - opt['matched']:,} engineers wait, "
            f"{c['slots_without_candidate']:,} of those slots with mentors who are in nobody's "
            f"top {c['per_mentee']}."
        )
    return " ".join(text)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.matching",
        description=(
            "Measure the matcher on a seeded synthetic population: (a) top-k shortlists with "
            "explanations, (b) one online match, (c) a cohort round, optimal against greedy "
            "and against the exact optimum. Prints the report and writes it as Markdown."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke run (a few seconds); explicit sizes still win",
    )
    options = {
        "mentees": "(a) mentees shortlisted",
        "mentors": "(a, b) mentors in the pool",
        "shortlist": "(a, b) mentors per shortlist",
        "exposure_per_slot": "(a) shortlists a mentor may appear on per free slot",
        "online": "(b) new mentees matched one at a time",
        "cohort_mentees": "(c) mentees in the cohort round",
        "cohort_mentors": "(c) mentors in the cohort round",
        "round_candidates": "(c) candidate mentors kept per mentee",
        "small_cohorts": "(c) small cohorts compared with the exact optimum",
        "small_mentees": "(c) mentees per small cohort",
        "small_mentors": "(c) mentors per small cohort",
        "check_mentees": "(c) mentees of the larger exactness check (0: skip)",
        "check_mentors": "(c) mentors of the larger exactness check (0: skip)",
        "block": "mentees scored at once",
        "seed": "seed of the synthetic population",
    }
    for name, help_text in options.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=None,
            dest=name,
            help=f"{help_text} (full {getattr(FULL, name):,}, quick {getattr(QUICK, name):,})",
        )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report to write"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures")
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else FULL
    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Sizes)
        if getattr(args, field.name, None) is not None
    }
    sizes = dataclasses.replace(base, **given)
    for field in dataclasses.fields(Sizes):
        minimum = 1 if field.name in ("mentees", "mentors", "shortlist", "online", "block") else 0
        if getattr(sizes, field.name) < minimum:
            raise SystemExit(f"--{field.name.replace('_', '-')} must be at least {minimum}")
    return sizes


def run(sizes: Sizes) -> tuple[dict[str, Any], dict[str, Any]]:
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    streams = np.random.SeedSequence(sizes.seed).spawn(6)
    rng = [np.random.default_rng(stream) for stream in streams]
    note(f"population: {sizes.mentees:,} mentees, {sizes.mentors:,} mentors (seed {sizes.seed})")
    mentors = make_mentors(rng[0], sizes.mentors, FULL_CAPACITY_WEIGHTS, id_prefix=1)
    mentees = make_mentees(rng[1], sizes.mentees, id_prefix=2)
    population = describe_population(mentees, mentors)
    note("(a) shortlists")
    shortlist_figures, pool = bench_shortlists(sizes, mentees, mentors, rng[2])
    note("(b) online matches")
    newcomers = make_mentees(rng[3], sizes.online, id_prefix=5)
    online_figures = bench_online(sizes, pool, mentors, newcomers, rng[3])
    del pool, mentees
    note("(c) cohort round")
    cohort_figures = bench_cohort(sizes, rng[4])
    exactness = bench_exactness(sizes, rng[5])
    figures = {
        "machine": machine(),
        "sizes": dataclasses.asdict(sizes),
        "weights_version": MentorPool([]).config.version,
        "shortlists": shortlist_figures,
        "online": online_figures,
        "cohort": cohort_figures,
        "exactness": exactness,
        "total_seconds": time.perf_counter() - started,
        "load_at_start": load_at_start,
    }
    note(f"done in {figures['total_seconds']:.0f} s")
    return figures, population


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from(args)
    figures, population = run(sizes)
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    command = f"python -m benchmarks.matching {flags}".strip()
    report = render(sizes, command, figures, population)
    print(report)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    note(f"report written to {output}")
    if args.json is not None:
        json_path: Path = args.json
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps({**figures, "population": population}, indent=2, default=str) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

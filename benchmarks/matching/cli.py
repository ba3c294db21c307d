"""`python -m benchmarks.matching`: the options, the run of every section in order on its own
seeded population, and the report written as Markdown (and, with --json, as raw figures)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matching_service.matcher.pool import MentorPool

from benchmarks.machine import describe, load_average
from benchmarks.matching.cohort import bench_cohort, bench_whole_population
from benchmarks.matching.exactness import bench_exactness
from benchmarks.matching.online import bench_online
from benchmarks.matching.population import (
    FULL_CAPACITY_WEIGHTS,
    describe_population,
    make_mentees,
    make_mentors,
)
from benchmarks.matching.report import render
from benchmarks.matching.shortlists import bench_shortlists
from benchmarks.matching.sizes import FULL, QUICK, Sizes
from benchmarks.progress import note

DEFAULT_OUTPUT = Path("docs/benchmarks/matching.md")


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
        "unbound_mentees": "(a) mentees shortlisted again with no binding exposure limit",
        "online": "(b) new mentees matched one at a time",
        "cohort_mentees": "(c) mentees in the cohort round",
        "cohort_mentors": "(c) mentors in the cohort round",
        "round_candidates": "(c, d) first candidate mentors per mentee",
        "whole_round": "(d) run a round of every mentee and mentor of (a) (0: skip)",
        "sample_mentees": "(d) mentees of the sub-cohort checked against the exact optimum",
        "sample_mentors": "(d) mentors of that sub-cohort",
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
    started_load = load_average()
    load_at_start = started_load[0] if started_load is not None else None
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
    whole = bench_whole_population(sizes) if sizes.whole_round else None
    figures = {
        "machine": describe(numeric=True),
        "sizes": dataclasses.asdict(sizes),
        "weights_version": MentorPool([]).config.version,
        "shortlists": shortlist_figures,
        "online": online_figures,
        "cohort": cohort_figures,
        "exactness": exactness,
        "whole_round": whole,
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

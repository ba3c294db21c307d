"""(b) One online match at a time against a prebuilt pool and against a pool built per match,
with BLAS on its default threads and on one; against one bare matrix-vector product."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from matching_service.matcher.pool import Mentee, Mentor, MentorPool
from matching_service.matcher.ranking import rank_mentors
from matching_service.matcher.scoring import N_LEVELS, N_SKILLS
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from benchmarks.machine import blas_threads
from benchmarks.matching.profiling import profile
from benchmarks.matching.sizes import Sizes
from benchmarks.progress import note, progress


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
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
        "blas_threads": blas_threads(),
        "anchor": percentiles(anchor),
        "prebuilt": percentiles(prebuilt),
        "anchor_one_thread": percentiles(anchor_one_thread),
        "prebuilt_one_thread": percentiles(prebuilt_one_thread),
        "with_pool": percentiles(with_pool),
        "pool_construction": percentiles(pool_only),
        "proposals_full": int((counts == sizes.shortlist).sum()),
        "proposals_none": int((counts == 0).sum()),
    }

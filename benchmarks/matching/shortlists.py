"""(a) Top-k shortlists for many mentees against one mentor pool, with the exposure limit, and
the explanations of every pair shown; against the bare matrix product the scoring needs."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from matching_service.matcher.pool import Mentee, Mentor, MentorPool
from matching_service.matcher.ranking import proposals_for, shortlists
from matching_service.matcher.scoring import N_LEVELS, N_SKILLS

from benchmarks.matching.population import IntArray
from benchmarks.matching.profiling import profile, timed
from benchmarks.matching.sizes import Sizes
from benchmarks.progress import note, progress


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

    # Explanations for every shown pair: each pair's components and sentence, computed for
    # the shown pairs only (`proposals_for`), a block of mentees at a time.
    explained = 0
    with_list = np.flatnonzero(shown[:, 0] >= 0)
    began = time.perf_counter()
    with progress("(a) explanations", int(with_list.size)) as bar:
        for start in range(0, with_list.size, sizes.block):
            explained += _explain(mentees, pool, shown, with_list[start : start + sizes.block])
            bar.advance(min(sizes.block, with_list.size - start))
    explain_seconds = time.perf_counter() - began

    # The kernel without a binding exposure limit (every mentor may be shown as often as
    # needed): every mentee gets a full list, so no block is cut short by used-up exposure.
    unbound = mentees[: min(len(mentees), sizes.unbound_mentees)]
    began = time.perf_counter()
    with progress("(a) shortlists, exposure not binding", len(unbound)) as bar:
        for start in range(0, len(unbound), chunk):
            batch = unbound[start : start + chunk]
            shortlists(batch, pool, k, exposure_per_slot=10**9, block=sizes.block)
            bar.advance(len(batch))
    unbound_seconds = time.perf_counter() - began
    unbound_anchor = 0.0
    for start in range(0, len(unbound), sizes.block):
        block_table = (
            table if start + sizes.block <= len(unbound) else table[:, : len(unbound) - start]
        )
        began = time.perf_counter()
        _ = one_hot @ block_table
        unbound_anchor += time.perf_counter() - began

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
        "explain_seconds": explain_seconds,
        "unbound_mentees": len(unbound),
        "unbound_seconds": unbound_seconds,
        "unbound_anchor_seconds": unbound_anchor,
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
        "profile_mentees": min(len(mentees), profiled),
        "late_profile_first": last_start,
        "late_profile_mentees": min(len(mentees) - last_start, profiled),
        "early_profile": early_profile,
        "late_profile": late_profile,
        "proposal_profile": proposal_profile,
    }
    return figures, pool


def _explain(mentees: Sequence[Mentee], pool: MentorPool, shown: IntArray, rows: IntArray) -> int:
    """The proposals (components and sentence) of every pair shown to these mentees."""
    lists = shown[rows]
    picked_row, place = np.nonzero(lists >= 0)
    batch = [mentees[row] for row in rows]
    proposals_for(batch, pool, picked_row, lists[picked_row, place])
    return int(picked_row.size)


def _explain_some(
    mentees: Sequence[Mentee], pool: MentorPool, shown: IntArray, rows: IntArray, sizes: Sizes
) -> None:
    """The explanations of the shown pairs of the first mentees with a list (about 2,000)."""
    _explain(mentees, pool, shown, rows[: 2_000 // sizes.shortlist])

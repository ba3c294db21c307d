"""Ranking mentors for mentees: one mentee's proposals best first, shortlists for many, and
the exposure rule that keeps one star mentor from topping every list. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .explain import covered_gaps, explain
from .pool import Mentee, MentorPool
from .scoring import (
    ALGORITHM_VERSION,
    ComponentScores,
    FloatArray,
    IntArray,
    default_config,
    rank,
)


@dataclass(frozen=True)
class Proposal:
    mentor_id: uuid.UUID
    score: float
    breakdown: dict[str, float]
    covered_skills: list[str]
    uncovered_skills: list[str]
    explanation: str
    algorithm_version: str = ALGORITHM_VERSION
    weights_version: str = field(default_factory=lambda: default_config().version)


# --- one mentee ----------------------------------------------------------------------------


def iter_proposals(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = ()
) -> Iterator[Proposal]:
    """Eligible mentors who can teach part of the gap, best first, each with its explanation
    (built only when the caller asks for the next one)."""
    if not len(pool):
        return
    scores, allowed = pool.evaluate([mentee], [excluded])
    eligible = allowed[0]
    for column in rank(scores.total[0], eligible):
        yield proposal_for(mentee, pool, scores, 0, int(column))


def rank_mentors(
    mentee: Mentee, pool: MentorPool, excluded: Collection[uuid.UUID] = (), limit: int | None = None
) -> list[Proposal]:
    proposals = []
    for proposal in iter_proposals(mentee, pool, excluded):
        proposals.append(proposal)
        if limit is not None and len(proposals) >= limit:
            break
    return proposals


def proposal_for(
    mentee: Mentee, pool: MentorPool, scores: ComponentScores, row: int, column: int
) -> Proposal:
    mentor = pool.mentors[column]
    covered, uncovered = covered_gaps(mentee, mentor, pool.role_weights(mentee))
    return Proposal(
        mentor_id=mentor.id,
        score=round(float(scores.total[row, column]), 4),
        breakdown=scores.breakdown(row, column),
        covered_skills=covered,
        uncovered_skills=uncovered,
        explanation=explain(mentee, mentor, covered, uncovered, pool.config.working_hours),
        weights_version=pool.config.version,
    )


# --- shortlists and the exposure rule ------------------------------------------------------

#: Mentors ranked per shortlist place, so that those at their exposure limit can be skipped.
SHORTLIST_DEPTH = 4


def exposure_limit(free_slots: IntArray, per_slot: int) -> IntArray:
    """The exposure rule: a mentor appears on at most `per_slot` shortlists per free slot. With
    scarce capacity one star mentor then cannot top every list, and later mentees see the next
    best instead."""
    limit: IntArray = free_slots * per_slot
    return limit


def shortlist(
    ranked: Sequence[Proposal],
    pool: MentorPool,
    exposure: Mapping[uuid.UUID, tuple[int, bool]],
    limit: int,
    per_slot: int,
) -> list[Proposal]:
    """Up to `limit` of one mentee's `ranked` proposals (best first) under the exposure rule.

    `exposure` says, per mentor, on how many other mentees' shortlists they are and whether
    this mentee saw them already: a mentee keeps seeing whom they saw recently."""
    shown: list[Proposal] = []
    caps = exposure_limit(pool.free_slots, per_slot)
    for proposal in ranked:
        if len(shown) == limit:
            break
        others, already_seen = exposure.get(proposal.mentor_id, (0, False))
        if already_seen or others < caps[pool.position[proposal.mentor_id]]:
            shown.append(proposal)
    return shown


# --- many mentees at once ------------------------------------------------------------------


@dataclass(frozen=True)
class Shortlists:
    """Per mentee, up to k mentor positions in the pool (best first; -1 pads) and scores."""

    mentors: IntArray
    scores: FloatArray


def shortlists(
    mentees: Sequence[Mentee],
    pool: MentorPool,
    k: int,
    *,
    excluded: Sequence[Collection[uuid.UUID]] | None = None,
    exposure: IntArray | None = None,
    exposure_per_slot: int = 3,
    block: int = 256,
) -> Shortlists:
    """Top-k eligible mentors for each mentee under the exposure rule (`exposure_limit`),
    counting the shortlists in `exposure`, which is updated in place. Mentees are served in
    order."""
    n = len(mentees)
    seen = exposure if exposure is not None else np.zeros(len(pool), dtype=np.intp)
    limit = exposure_limit(pool.free_slots, exposure_per_slot)
    result = np.full((n, k), -1, dtype=np.intp)
    result_scores = np.zeros((n, k))
    depth = min(len(pool), k * SHORTLIST_DEPTH)
    for start in range(0, n, block):
        batch = mentees[start : start + block]
        components, allowed = pool.evaluate(
            batch, excluded[start : start + block] if excluded else None
        )
        scores = components.total
        masked = np.where(allowed & (scores > 0), scores, -1.0)
        if depth == 0:
            continue
        top = np.argpartition(-masked, depth - 1, axis=1)[:, :depth]
        for row in range(len(batch)):
            columns = top[row]
            ranked = columns[np.lexsort((columns, -masked[row, columns]))]
            taken = _fill_shortlist(ranked, masked[row], seen, limit, k, result[start + row])
            if taken < k and depth < len(pool):
                # The best few are all at their exposure limit: look further down the ranking,
                # among the mentors who still have exposure left (often none, once a scarce
                # market is used up, and then this costs one pass over the row).
                room = (seen < limit) & (masked[row] > 0)
                room[result[start + row, :taken]] = False
                rest = np.flatnonzero(room)
                if len(rest):
                    rest = rest[np.lexsort((rest, -masked[row, rest]))]
                    taken = _fill_shortlist(
                        rest, masked[row], seen, limit, k, result[start + row], taken
                    )
            filled = result[start + row, :taken]
            result_scores[start + row, :taken] = masked[row, filled]
    return Shortlists(mentors=result, scores=result_scores)


def _fill_shortlist(
    ranked: IntArray,
    scores: FloatArray,
    seen: IntArray,
    limit: IntArray,
    k: int,
    out: IntArray,
    taken: int = 0,
) -> int:
    """Append mentors from `ranked` (best first) to `out` while they score above 0, skipping
    those at their exposure limit; returns how many `out` holds."""
    for column in ranked:
        if taken == k or scores[column] <= 0:
            break
        if seen[column] >= limit[column]:
            continue
        seen[column] += 1
        out[taken] = column
        taken += 1
    return taken

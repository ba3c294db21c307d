"""The matcher's rules written the slow, obvious way: one pair at a time, straight from the
formulas in `matching_service.matcher.scoring`, and mentees served one by one under the
exposure rule. Tests hold the fast kernels (one matrix product per block, the whole block's
order of service settled at once) to these."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

import numpy as np
from matching_service.matcher.pool import Mentee, Mentor
from matching_service.matcher.scoring import N_SKILLS, ScoringConfig


def rarity(mentors: Sequence[Mentor], config: ScoringConfig) -> np.ndarray:
    """Per skill: 1 - the share of the mentors strong in it."""
    if not mentors:
        return np.ones(N_SKILLS)
    strong = [
        sum(1 for m in mentors if _level(m, skill) >= config.strong_level) / len(mentors)
        for skill in range(N_SKILLS)
    ]
    return 1.0 - np.array(strong)


def components(
    mentee: Mentee, mentor: Mentor, market_rarity: np.ndarray, config: ScoringConfig
) -> dict[str, float]:
    """Every component of one pair, and the total (0 when the mentor teaches no gap)."""
    role = config.role_for(mentee.target_role).weights
    gaps = [max(mentee.target[s] - mentee.current[s], 0.0) for s in range(N_SKILLS)]
    weighted = [gaps[s] * role[s] for s in range(N_SKILLS)]
    weight_total = sum(weighted)
    share = [w / weight_total if weight_total else 0.0 for w in weighted]
    similarity = coverage = rare_reach = rare_weight = 0.0
    for s in range(N_SKILLS):
        if gaps[s] <= 0:
            continue
        level = _level(mentor, s)
        reach = min(max(level - mentee.current[s], 0.0), gaps[s]) / gaps[s]
        similarity += share[s] * reach
        coverage += share[s] * (1.0 if level >= mentee.target[s] else 0.0)
        rare_reach += share[s] * market_rarity[s] * reach
        rare_weight += share[s] * market_rarity[s]
    rare_reach = rare_reach / rare_weight if rare_weight > 0 else 0.0
    unused = sum(
        market_rarity[s]
        for s in range(N_SKILLS)
        if gaps[s] <= 0 and _level(mentor, s) >= config.strong_level
    )
    rare_unused = unused / max(float(sum(market_rarity)), 1e-12)
    apart = hours_apart(mentee.utc_offset_hours, mentor.utc_offset_hours)
    parts = {
        "similarity": similarity,
        "coverage": coverage,
        "scarcity": 0.5 * rare_reach + 0.5 * (1.0 - rare_unused),
        "was_engineer": 1.0 if mentor.was_engineer else 0.0,
        "industry": (
            len(mentee.industries & mentor.industries) / len(mentee.industries)
            if mentee.industries
            else 0.0
        ),
        "timezone": max(config.working_hours - apart, 0.0) / config.working_hours,
    }
    total = sum(config.weights[name] * value for name, value in parts.items())
    parts["total"] = total if similarity > 0 else 0.0
    return parts


def hours_apart(a: float, b: float) -> float:
    diff = abs(a - b) % 24.0
    return min(diff, 24.0 - diff)


def allowed(mentee: Mentee, mentor: Mentor, excluded: Collection[uuid.UUID] = ()) -> bool:
    """Every hard constraint: a shared language, a free slot, within the mentee's timezone
    limit, not the mentee themself, not excluded."""
    limit = mentee.max_timezone_difference_hours
    return (
        bool(mentee.languages & mentor.languages)
        and mentor.free_slots > 0
        and (
            limit is None or hours_apart(mentee.utc_offset_hours, mentor.utc_offset_hours) <= limit
        )
        and mentor.id != mentee.id
        and mentor.id not in excluded
    )


def serve_shortlists(
    totals: np.ndarray,
    usable: np.ndarray,
    free_slots: np.ndarray,
    k: int,
    per_slot: int,
    seen: np.ndarray | None = None,
) -> list[list[int]]:
    """Mentees one by one in order: each takes, best first (ties: lower column), the usable
    mentors with a positive score still below free slots x per_slot shortlists."""
    shown = np.zeros(totals.shape[1], dtype=int) if seen is None else seen
    lists = []
    for row in range(totals.shape[0]):
        order = sorted(
            (column for column in range(totals.shape[1]) if usable[row, column]),
            key=lambda column: (-totals[row, column], column),
        )
        picked: list[int] = []
        for column in order:
            if len(picked) == k or totals[row, column] <= 0:
                break
            if shown[column] < free_slots[column] * per_slot:
                shown[column] += 1
                picked.append(column)
        lists.append(picked)
    return lists


def _level(mentor: Mentor, skill: int) -> float:
    return float(min(max(round(float(mentor.strengths[skill])), 0), 5))

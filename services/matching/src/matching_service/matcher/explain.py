"""The explanation a person reads with every proposal: which of the mentee's gaps the mentor
covers, which not and where to start on those, and the soft reasons that helped. Pure."""

from __future__ import annotations

import numpy as np
from mentorship_shared.contracts.skills import TAXONOMY

from .learning import resources_for
from .pool import Mentee, Mentor
from .scoring import N_SKILLS, SKILL_IDS, SKILL_INDEX, FloatArray, hours_apart


def covered_gaps(
    mentee: Mentee, mentor: Mentor, role_weights: FloatArray | None = None
) -> tuple[list[str], list[str]]:
    """Gap skills the mentor is at or above target on, and the rest; the gaps that matter most
    for the mentee's target role first."""
    weights = np.ones(N_SKILLS) if role_weights is None else role_weights
    # Only the order of the weighted gaps matters here, so no normalisation (for one row,
    # scikit-learn's input checks would cost more than the arithmetic).
    share = np.clip(mentee.target - mentee.current, 0.0, None) * weights
    order = sorted(np.flatnonzero(share), key=lambda i: (-share[i], -mentor.strengths[i], i))
    covered = [SKILL_IDS[i] for i in order if mentor.strengths[i] >= mentee.target[i]]
    uncovered = [SKILL_IDS[i] for i in order if mentor.strengths[i] < mentee.target[i]]
    return covered, uncovered


def explain(
    mentee: Mentee,
    mentor: Mentor,
    covered: list[str],
    uncovered: list[str],
    working_hours: float = 9.0,
) -> str:
    """A short explanation a person reads: the gaps the mentor covers best, those left with
    something to start on each (from the learning-resource catalogue), and the soft reasons
    that helped."""

    def describe(skill_id: str) -> str:
        i = SKILL_INDEX[skill_id]
        return (
            f"{TAXONOMY.by_id(skill_id).short_name} "
            f"(you {int(mentee.current[i])} -> {int(mentee.target[i])}, "
            f"mentor {int(mentor.strengths[i])})"
        )

    if covered:
        noun = "gap" if len(covered) == 1 else "gaps"
        sentence = f"Covers your {noun} in {_join_some([describe(s) for s in covered])}."
    else:
        # No skill where the mentor reaches the target, but the score is positive: say where
        # they can take the mentee furthest, and leave that skill out of "not covered".
        gaps = np.clip(mentee.target - mentee.current, 0.0, None)
        reach = np.clip(mentor.strengths - mentee.current, 0.0, gaps)
        best = SKILL_IDS[max(np.flatnonzero(gaps), key=lambda i: (reach[i], gaps[i], -i))]
        sentence = f"Can take you part of the way in {describe(best)}."
        uncovered = [skill for skill in uncovered if skill != best]
    parts = [sentence]
    if uncovered:
        names = [TAXONOMY.by_id(s).short_name for s in uncovered]
        parts.append(f"Not covered: {_join_some(names)}.")
        starts = [f"'{resources_for(s)[0].title}'" for s in uncovered if resources_for(s)]
        if starts:
            pronoun = "it" if len(uncovered) == 1 else "them"
            parts.append(f"To start on {pronoun}: {_join_some(starts)}.")
    if mentor.was_engineer:
        parts.append("Made the move from engineering to product too.")
    shared = sorted(mentee.industries & mentor.industries)
    if shared:
        parts.append(f"Knows {_join_some(shared, shown=2)} like you.")
    apart = float(hours_apart(np.array(mentee.utc_offset_hours), np.array(mentor.utc_offset_hours)))
    if apart == 0:
        parts.append("Same working hours as you.")
    elif apart < working_hours:
        hours = f"{apart:g} hour" + ("" if apart == 1 else "s")
        parts.append(f"{hours} apart, so your working days overlap.")
    return " ".join(parts)


def _join_some(items: list[str], shown: int = 3) -> str:
    """'a, b and c', or 'a, b, c and 2 more' when there are more than `shown`."""
    if len(items) > shown:
        items = [*items[:shown], f"{len(items) - shown} more"]
    return _join(items)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"

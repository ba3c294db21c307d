"""Learning plans: for every gap no mentor covers, a few practices, courses and books from the
learning-resource catalogue. Pure: a mentee's vectors and the catalogue in, the plan out.

A gap gets at most one resource of each kind, in the order a plan offers them (something to do
at work first, then a course, then a book), each the first of its kind the catalogue lists for
the skill, so the same gap always gets the same resources from one catalogue version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from mentorship_shared.contracts.events import GapResources, LearningGap, SuggestedResource
from mentorship_shared.contracts.learning_resources import (
    CURRENT_CATALOGUE_VERSION,
    RESOURCE_KINDS,
    LearningResource,
    load_catalogue,
)

from .pool import Mentee
from .scoring import SKILL_IDS, FloatArray

#: Most resources a plan names for one gap: one of each kind.
RESOURCES_PER_GAP = len(RESOURCE_KINDS)


@dataclass(frozen=True)
class PlannedGap:
    """One of a mentee's gaps, whether their mentor covers it, and what helps with it when
    nobody does."""

    skill: str
    current: int
    target: int
    covered_by_mentor: bool
    #: Empty when the mentor covers the gap.
    resources: tuple[LearningResource, ...]


@cache
def resources_for(
    skill_id: str, version: int = CURRENT_CATALOGUE_VERSION
) -> tuple[LearningResource, ...]:
    """The resources a plan names for a gap in this skill: the first of each kind."""
    listed = load_catalogue(version).for_skill(skill_id)
    chosen = [next((r for r in listed if r.kind == kind), None) for kind in RESOURCE_KINDS]
    return tuple(resource for resource in chosen if resource is not None)


def plan_gaps(
    mentee: Mentee,
    role_weights: FloatArray,
    covered: Collection[str] = (),
    version: int = CURRENT_CATALOGUE_VERSION,
) -> list[PlannedGap]:
    """Every gap of the mentee, the one that matters most for their target role first; those
    in `covered` (their mentor's) without resources, the others with theirs."""
    share = np.clip(mentee.target - mentee.current, 0.0, None) * role_weights
    gaps = np.flatnonzero(mentee.target > mentee.current)
    order = sorted(gaps, key=lambda i: (-share[i], i))
    return [
        PlannedGap(
            skill=SKILL_IDS[i],
            current=int(mentee.current[i]),
            target=int(mentee.target[i]),
            covered_by_mentor=SKILL_IDS[i] in covered,
            resources=() if SKILL_IDS[i] in covered else resources_for(SKILL_IDS[i], version),
        )
        for i in order
    ]


def suggested(resource: LearningResource) -> SuggestedResource:
    return SuggestedResource(
        id=resource.id,
        kind=resource.kind,
        title=resource.title,
        by=resource.by,
        summary=resource.summary,
    )


def gap_resources(
    skill_ids: Iterable[str], version: int = CURRENT_CATALOGUE_VERSION
) -> list[GapResources]:
    """What a proposal suggests for the gaps its mentor does not cover, in their order."""
    return [_gap_resources(skill, version) for skill in skill_ids]


@cache
def _gap_resources(skill_id: str, version: int) -> GapResources:
    # Built once per skill: every proposal leaving the gap open carries the same (frozen) value.
    return GapResources(
        skill=skill_id, resources=[suggested(r) for r in resources_for(skill_id, version)]
    )


def learning_gaps(gaps: Sequence[PlannedGap]) -> list[LearningGap]:
    """The uncovered gaps of a plan as a learning plan's event carries them."""
    return [
        LearningGap(
            skill=gap.skill,
            current=gap.current,
            target=gap.target,
            resources=[suggested(r) for r in gap.resources],
        )
        for gap in gaps
        if not gap.covered_by_mentor
    ]


def plan_digest(gaps: Sequence[LearningGap], version: int) -> str:
    """A fingerprint of a plan's content: the same gaps, levels and resources from the same
    catalogue version give the same digest, so a plan is mailed once, not on every retry."""
    content = [version, [[g.skill, g.current, g.target, [r.id for r in g.resources]] for g in gaps]]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()

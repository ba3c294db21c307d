"""The matcher's view of mentees and mentors, and how a proposal is chosen and explained."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from mentorship_shared.contracts.skills import TAXONOMY

from .scoring import ALGORITHM_VERSION, W_COVERAGE, W_SIMILARITY, FloatArray, rank, score_mentors

SKILL_INDEX = {skill_id: index for index, skill_id in enumerate(TAXONOMY.ids)}
N_SKILLS = len(SKILL_INDEX)


@dataclass(frozen=True)
class Mentee:
    id: uuid.UUID
    languages: frozenset[str]
    current: FloatArray
    target: FloatArray


@dataclass(frozen=True)
class Mentor:
    id: uuid.UUID
    languages: frozenset[str]
    strengths: FloatArray
    was_engineer: bool = False


@dataclass(frozen=True)
class Proposal:
    mentor_id: uuid.UUID
    score: float
    breakdown: dict[str, float]
    covered_skills: list[str]
    uncovered_skills: list[str]
    explanation: str
    algorithm_version: str = ALGORITHM_VERSION
    alternatives: list[uuid.UUID] = field(default_factory=list)


def skill_vector(levels: dict[str, int]) -> FloatArray:
    """A vector over the taxonomy from {skill id: level}; skills not mentioned are 0."""
    vector = np.zeros(N_SKILLS)
    for skill_id, level in levels.items():
        index = SKILL_INDEX.get(skill_id)
        if index is not None:  # a skill from a newer taxonomy this matcher does not know
            vector[index] = level
    return vector


def rank_mentors(mentee: Mentee, mentors: Sequence[Mentor]) -> list[Proposal]:
    """Every eligible mentor who covers some gap, best first, each with its explanation.

    Eligible: shares a language with the mentee and is not the mentee. (Capacity, pauses and
    earlier declines are filtered by the repository, which reads them under lock.)
    """
    if not mentors:
        return []
    strengths = np.vstack([mentor.strengths for mentor in mentors])
    scores = score_mentors(mentee.current, mentee.target, strengths)
    eligible = np.array(
        [bool(mentee.languages & m.languages) and m.id != mentee.id for m in mentors]
    )
    proposals = []
    for index in rank(scores.total, eligible):
        mentor = mentors[int(index)]
        covered, uncovered = covered_gaps(mentee, mentor)
        proposals.append(
            Proposal(
                mentor_id=mentor.id,
                score=round(float(scores.total[index]), 4),
                breakdown={
                    "similarity": round(float(scores.similarity[index]), 4),
                    "coverage": round(float(scores.coverage[index]), 4),
                    "weight_similarity": W_SIMILARITY,
                    "weight_coverage": W_COVERAGE,
                },
                covered_skills=covered,
                uncovered_skills=uncovered,
                explanation=explain(mentee, mentor, covered, uncovered),
            )
        )
    return proposals


def covered_gaps(mentee: Mentee, mentor: Mentor) -> tuple[list[str], list[str]]:
    """Gap skills the mentor is at or above target on, and the rest; biggest gaps first."""
    gaps = np.clip(mentee.target - mentee.current, 0.0, None)
    ids = TAXONOMY.ids
    order = sorted(np.flatnonzero(gaps), key=lambda i: (-gaps[i], -mentor.strengths[i], i))
    covered = [ids[i] for i in order if mentor.strengths[i] >= mentee.target[i]]
    uncovered = [ids[i] for i in order if mentor.strengths[i] < mentee.target[i]]
    return covered, uncovered


def explain(mentee: Mentee, mentor: Mentor, covered: list[str], uncovered: list[str]) -> str:
    """A short explanation a person reads, naming the gaps the mentor covers and those left."""

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
        best = TAXONOMY.ids[max(np.flatnonzero(gaps), key=lambda i: (reach[i], gaps[i], -i))]
        sentence = f"Can take you part of the way in {describe(best)}."
        uncovered = [skill for skill in uncovered if skill != best]
    parts = [sentence]
    if uncovered:
        names = [TAXONOMY.by_id(s).short_name for s in uncovered]
        parts.append(f"Not covered: {_join_some(names)}.")
    if mentor.was_engineer:
        parts.append("Made the move from engineering to product too.")
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

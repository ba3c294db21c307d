"""A seeded synthetic population of engineers moving into product management (mentees) and
product-manager mentors: where they live, which languages they speak, their skill levels, gaps
and capacity, drawn with numpy so that 100,000 profiles take seconds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from matching_service.matcher.pool import Mentee, Mentor, utc_offset_hours
from matching_service.matcher.scoring import N_SKILLS, SKILL_IDS
from mentorship_shared.contracts.skills import TAXONOMY

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


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

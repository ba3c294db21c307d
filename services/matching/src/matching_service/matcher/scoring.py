"""The match score: pure functions on numpy arrays, no I/O.

A mentee's gap on a skill is how far the target is above the current level, multiplied by how
much the skill matters for the mentee's target role (`ScoringConfig.role_weights`). Gaps become
weights by L1 normalisation (each gap's share of the whole). A mentor's strength
is their level, 0 to 5. For mentor m and mentee b, every component lies in [0, 1]:

    reach[s]      share of gap s the mentor can teach: (strength - current) / gap, capped at 1
    similarity    sum over gap skills of weight * reach
    coverage      sum over gap skills of weight * [strength >= target]
    scarcity      half: the gap-weighted reach on rare skills (rare: few mentors in the pool are
                  strong there), half: 1 - the mentor's rare strengths this mentee does not need,
                  so a mentor with scarce strengths is not used up by an easy match
    was_engineer  1 when the mentor made the engineering-to-product move
    industry      share of the mentee's industries the mentor knows
    timezone      overlap of their working days: (working_hours - hours apart) / working_hours

    score = sum of component * weight, weights from one versioned config (they sum to 1)

Every component except scarcity's second half only grows with a mentor's strength on a gap
skill, and that half only reads skills outside the gaps, so raising a mentor's strength on a
gap skill never lowers the score (for a fixed market: rarity is measured on the pool).

Speed: levels are integers 0-5, so every skill component is a lookup table per (mentee, skill,
level), and with mentors one-hot encoded by level a component is a matrix product. The total
is linear in those tables and in the soft factors, so it is ONE product (`fused_table`): the
weighted skill tables side by side with the soft factors, the soft factors and hard constraints
encoded per class of mentor (was an engineer, each industry, each UTC offset, each set of
languages). Only the rule "teaches nothing of the gap, scores 0" is not linear; it is checked
on the pairs that matter (`teaches`). Table entries are multiples of a power of two (2**-32 for
the component tables, 2**-40 for the fused one) and every partial sum is then exact in float64,
so a BLAS product gives the same bits whatever its blocking, and identical mentors always get
identical scores. The fused entries are rounded down, so a total never exceeds its exact value
(at most 1) and lies within 1e-10 of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from mentorship_shared.contracts.skills import TAXONOMY

ALGORITHM_VERSION = "skill-gap-v3"
N_LEVELS = 6  # levels 0..5
COMPONENTS = ("similarity", "coverage", "scarcity", "was_engineer", "industry", "timezone")
SKILL_COMPONENTS = ("similarity", "coverage", "rare_reach", "rare_unused")
_QUANTUM = 2.0**-32
_FUSED_QUANTUM = 2.0**-40
#: Added to a pair's fused table entry when a hard constraint forbids the pair (no shared
#: language, beyond the mentee's timezone limit): far below any score, and a power of two so
#: that sums stay exact.
FORBIDDEN = -(2.0**10)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

SKILL_IDS = TAXONOMY.ids
SKILL_INDEX = {skill_id: index for index, skill_id in enumerate(SKILL_IDS)}
N_SKILLS = len(SKILL_IDS)


@dataclass(frozen=True)
class RoleProfile:
    id: str
    name: str
    keywords: tuple[str, ...]
    weights: FloatArray  # per skill, 1.0 when the role says nothing about it


@dataclass(frozen=True, eq=False)  # compared and hashed by identity, so lookups can be cached
class ScoringConfig:
    """Weights of the score, from a versioned data file."""

    version: str
    weights: dict[str, float]
    strong_level: int
    working_hours: float
    roles: dict[str, RoleProfile]
    default_role: str

    def role_for(self, target_role: str | None) -> RoleProfile:
        return self._roles_by_text(target_role or "")

    @lru_cache(maxsize=1024)  # noqa: B019 -- configs are few and live as long as the process
    def _roles_by_text(self, target_role: str) -> RoleProfile:
        """The role profile a mentee's free-text target role names (first keyword match wins,
        most specific roles first); the default profile when nothing matches."""
        words = " ".join(re.findall(r"[a-z0-9]+", target_role.lower()))
        for role in self.roles.values():
            if role.id != self.default_role and any(
                re.search(rf"\b{re.escape(keyword)}\b", words) for keyword in role.keywords
            ):
                return role
        return self.roles[self.default_role]

    def weight_vector(self) -> FloatArray:
        return np.array([self.weights[name] for name in COMPONENTS])


def parse_config(data: dict[str, Any]) -> ScoringConfig:
    weights = {name: float(data["components"][name]) for name in COMPONENTS}
    if abs(sum(weights.values()) - 1.0) > 1e-9 or min(weights.values()) < 0:
        raise ValueError("score component weights must be non-negative and sum to 1")
    roles = {}
    for role_id, role in data["roles"].items():
        vector = np.ones(N_SKILLS)
        for skill_id, weight in role["skills"].items():
            if skill_id not in SKILL_INDEX:
                raise ValueError(f"role {role_id} weights unknown skill {skill_id!r}")
            vector[SKILL_INDEX[skill_id]] = float(weight)
        roles[role_id] = RoleProfile(
            id=role_id,
            name=role["name"],
            keywords=tuple(str(keyword).lower() for keyword in role["keywords"]),
            weights=vector,
        )
    if data["default_role"] not in roles:
        raise ValueError("default_role must name one of the roles")
    return ScoringConfig(
        version=data["version"],
        weights=weights,
        strong_level=int(data["strong_level"]),
        working_hours=float(data["working_hours"]),
        roles=roles,
        default_role=data["default_role"],
    )


@cache
def default_config() -> ScoringConfig:
    text = resources.files("matching_service").joinpath("data/weights-v1.json").read_text()
    return parse_config(json.loads(text))


# --- mentors -------------------------------------------------------------------------------


def one_hot_levels(levels: npt.NDArray[np.int8]) -> FloatArray:
    """(n, skills) integer levels -> (n, skills * 6) indicator of each skill's level."""
    n = levels.shape[0]
    encoded = np.zeros((n, N_SKILLS * N_LEVELS))
    columns = np.arange(N_SKILLS) * N_LEVELS + levels.astype(np.intp)
    encoded[np.arange(n)[:, None], columns] = 1.0
    return encoded


def rarity(levels: npt.NDArray[np.int8], strong_level: int) -> FloatArray:
    """Per skill: 1 - the share of mentors strong in it (1 when nobody is, 0 when all are)."""
    return rarity_of_counts((levels >= strong_level).sum(axis=0), levels.shape[0])


def rarity_of_counts(strong_counts: npt.NDArray[np.integer[Any]], mentors: int) -> FloatArray:
    """`rarity` from the count of strong mentors per skill among `mentors`: the same bits, so a
    pool can keep the counts and update them by the rows that changed."""
    if mentors == 0:
        return np.ones(N_SKILLS)
    share: FloatArray = 1.0 - strong_counts / mentors
    return share


# --- skill components ----------------------------------------------------------------------


def gap_weights(current: FloatArray, target: FloatArray, role_weights: FloatArray) -> FloatArray:
    """(b, skills) share of each skill in the mentee's role-weighted gap; rows sum to 1 (or 0
    for a mentee with no gap)."""
    gaps = np.clip(target - current, 0.0, None) * role_weights
    # Plain numpy rather than scikit-learn's `normalize` (the same arithmetic): its argument
    # validation cost more than the division, once per online match.
    totals = gaps.sum(axis=1, keepdims=True)
    weights: FloatArray = gaps / np.where(totals == 0.0, 1.0, totals)
    return weights


def skill_components(
    current: FloatArray,
    target: FloatArray,
    role_weights: FloatArray,
    market_rarity: FloatArray,
    strong_level: int,
) -> FloatArray:
    """The four skill components as exact lookup tables (component, mentee, skill, level):
    what `skill_tables` and `fused_skill_table` are made of (`MenteeBlock` keeps them, as a
    match reads both)."""
    levels = np.arange(N_LEVELS, dtype=np.float64)[None, None, :]  # (1, 1, 6)
    cur = current[:, :, None]
    tgt = target[:, :, None]
    gaps = np.clip(tgt - cur, 0.0, None)
    on_gap = gaps > 0
    weights = gap_weights(current, target, role_weights)[:, :, None]
    safe_gaps = np.where(on_gap, gaps, 1.0)
    reach = np.where(on_gap, np.minimum(np.clip(levels - cur, 0.0, None), gaps) / safe_gaps, 0.0)
    similarity = weights * reach
    coverage = weights * (on_gap & (levels >= tgt))
    rare = market_rarity[None, :, None]
    rare_total = (weights * rare).sum(axis=1, keepdims=True)
    rare_reach = weights * rare * reach / np.where(rare_total > 0, rare_total, np.inf)
    strong = (levels >= strong_level) & ~on_gap
    rare_sum = max(float(market_rarity.sum()), 1e-12)
    rare_unused = np.broadcast_to(strong * rare / rare_sum, similarity.shape)
    return np.stack([similarity, coverage, rare_reach, rare_unused])  # (4, b, skills, 6)


def skill_tables(components: FloatArray) -> FloatArray:
    """Lookup tables (component, skill * level, mentee) from a block's `skill_components`.

    Multiplying a mentor's one-hot level row by a table column gives that component."""
    b = components.shape[1]
    tables = np.round(components.reshape(4, b, N_SKILLS * N_LEVELS) / _QUANTUM) * _QUANTUM
    return np.ascontiguousarray(tables.transpose(0, 2, 1))


def fused_skill_table(components: FloatArray, config: ScoringConfig) -> FloatArray:
    """(b, skill * level) from a block's `skill_components`: their weighted sum, so that a
    mentor's one-hot row times a table row is similarity, coverage and scarcity, each times
    its weight.

    Not yet rounded (`quantize`); the constant half of scarcity sits on the first skill's six
    entries, of which every mentor has exactly one."""
    b = components.shape[1]
    similarity, coverage, rare_reach, rare_unused = components
    w = config.weights
    half_scarcity = 0.5 * w["scarcity"]
    fused = (
        w["similarity"] * similarity
        + w["coverage"] * coverage
        + half_scarcity * (rare_reach - rare_unused)
    )
    fused[:, 0, :] += half_scarcity
    table: FloatArray = fused.reshape(b, N_SKILLS * N_LEVELS)
    return table


def quantize(table: FloatArray) -> FloatArray:
    """Entries rounded down to multiples of 2**-40: sums of a few hundred of them (each below
    2**11 in size) are exact in float64, whatever order a BLAS product adds them in."""
    quantized: FloatArray = np.floor(table * (1.0 / _FUSED_QUANTUM)) * _FUSED_QUANTUM
    return quantized


def teaching_table(
    current: FloatArray, target: FloatArray, role_weights: FloatArray
) -> npt.NDArray[np.float32]:
    """(b, skill * level) 1 where a mentor at that level is above the mentee's current level on
    a gap skill that counts for the mentee's role: a mentor's one-hot row times it counts the
    gaps the mentor can teach (exact in float32, and half the work of float64)."""
    levels = np.arange(N_LEVELS, dtype=np.float64)[None, None, :]
    on_gap = (target > current) & (role_weights > 0)
    teaching = on_gap[:, :, None] & (levels > current[:, :, None])
    return teaching.reshape(current.shape[0], N_SKILLS * N_LEVELS).astype(np.float32)


def teaches(
    current: FloatArray,
    target: FloatArray,
    role_weights: FloatArray,
    mentor_levels: npt.NDArray[np.int8],
) -> BoolArray:
    """Per pair (rows of the arrays): the mentor is above the mentee's current level on at
    least one gap skill that counts for the mentee's role, so the similarity is above 0."""
    on_gap = (target > current) & (role_weights > 0)
    result: BoolArray = np.any(on_gap & (mentor_levels > current), axis=-1)
    return result


@dataclass(frozen=True)
class ComponentScores:
    """Every component and the total for a block of mentees (rows) against mentors (columns)."""

    similarity: FloatArray
    coverage: FloatArray
    scarcity: FloatArray
    was_engineer: FloatArray
    industry: FloatArray
    timezone: FloatArray
    total: FloatArray

    def breakdown(self, *index: int) -> dict[str, float]:
        """The components of one pair (a row and column, or a position in 1-d arrays),
        rounded as a proposal shows them."""
        return {name: round(float(getattr(self, name)[index]), 4) for name in COMPONENTS}


def combine(
    skill_parts: FloatArray,
    was_engineer: FloatArray,
    industry: FloatArray,
    timezone: FloatArray,
    config: ScoringConfig,
) -> ComponentScores:
    """Weighted total from the skill components (4, b, n) and the soft factors (b, n)."""
    similarity, coverage, rare_reach, rare_unused = skill_parts
    # Rounding the tables to the nearest quantum can leave a sum a few quanta outside [0, 1];
    # clipping element by element keeps every part in range and identical rows identical.
    similarity = np.clip(similarity, 0.0, 1.0)
    coverage = np.clip(coverage, 0.0, 1.0)
    scarcity = np.clip(0.5 * rare_reach + 0.5 * (1.0 - rare_unused), 0.0, 1.0)
    w = config.weights
    total = w["similarity"] * similarity
    total += w["coverage"] * coverage
    total += w["scarcity"] * scarcity
    total += w["was_engineer"] * was_engineer
    total += w["industry"] * industry
    total += w["timezone"] * timezone
    # A mentor who can teach nothing of the gap is no match, whatever the soft factors say.
    total[similarity <= 0] = 0.0
    # Every part lies in [0, 1] (the tables are built so) and the weights sum to 1; the clip
    # only removes rounding dust at the ends.
    np.clip(total, 0.0, 1.0, out=total)
    return ComponentScores(
        similarity=similarity,
        coverage=coverage,
        scarcity=scarcity,
        was_engineer=np.broadcast_to(was_engineer, total.shape),
        industry=np.broadcast_to(industry, total.shape),
        timezone=np.broadcast_to(timezone, total.shape),
        total=total,
    )


def timezone_overlap(hours_apart: FloatArray, working_hours: float) -> FloatArray:
    """Share of a working day two people both work, given how many hours apart they are."""
    return np.clip(working_hours - hours_apart, 0.0, None) / working_hours


def hours_apart(offsets_a: FloatArray, offsets_b: FloatArray) -> FloatArray:
    """Hours between UTC offsets on the 24-hour clock (never more than 12)."""
    # Offsets lie within -12..+14, so a plain difference is at most 26 hours: no modulo needed.
    diff = np.abs(offsets_a - offsets_b)
    return np.minimum(diff, np.abs(24.0 - diff))


def rank(scores: FloatArray, eligible: BoolArray) -> IntArray:
    """Indices of eligible mentors with a positive score, best first (ties: lower index first)."""
    candidates = np.flatnonzero(eligible & (scores > 0.0))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]

"""A synthetic outcome set from known true weights, to try `fit` and `replay` on.

Each synthetic proposal gets parts of a score drawn the way real proposals look (mostly good
skill matches, half the mentors former engineers, some shared industries, most timezones
close), is scored with the weights in use as the matcher would have, and its mentorship goes
as well as the true weights say, plus noise: the same latent quality, each time with noise of
its own, closes the gap, completes or not, and sets each side's CSAT and NPS. A side leaves the
survey unanswered now and then, as people do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from ..matcher.scoring import ALGORITHM_VERSION, COMPONENTS, ScoringConfig
from ..outcome import MatchOutcome

#: True weights `generate` uses unless told otherwise: far from the packaged ones (which lean
#: on the skill match), so that a fit that recovers them shows.
DEFAULT_TRUE_WEIGHTS = {
    "similarity": 0.25,
    "coverage": 0.05,
    "scarcity": 0.05,
    "was_engineer": 0.25,
    "industry": 0.15,
    "timezone": 0.25,
}
#: Share of sides that do not answer the closing survey.
UNANSWERED = 0.25


def parse_weights(text: str) -> dict[str, float]:
    """'similarity=0.3,coverage=0.1,...' (every component, non-negative) as weights summing
    to 1; a ValueError saying what is wrong otherwise."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in COMPONENTS:
            raise ValueError(f"unknown component {name.strip()!r}; the components are {COMPONENTS}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{item!r}: the weight must be a number") from None
    missing = [name for name in COMPONENTS if name not in weights]
    if missing:
        raise ValueError(f"give a weight for every component; missing: {missing}")
    total = sum(weights.values())
    if min(weights.values()) < 0 or total <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return {name: weights[name] / total for name in COMPONENTS}


def generate(
    count: int,
    scored_with: ScoringConfig,
    true_weights: Mapping[str, float] = DEFAULT_TRUE_WEIGHTS,
    *,
    seed: int = 0,
    noise: float = 0.05,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    on_step: Callable[[], None] = lambda: None,
) -> list[MatchOutcome]:
    """`count` finished mentorships whose outcomes follow `true_weights`, their proposals scored
    with `scored_with` (the weights in use when they were proposed)."""
    rng = np.random.default_rng(seed)
    truth = np.array([true_weights[name] for name in COMPONENTS])
    used = scored_with.weight_vector()
    outcomes = []
    for _ in range(count):
        parts = _parts(rng)
        quality = float(parts @ truth) + rng.normal(0.0, noise)

        def noisy(spread: float, quality: float = quality) -> float:
            return float(np.clip(quality + rng.normal(0.0, spread), 0.0, 1.0))

        completed = noisy(0.1) >= 0.5
        proposed_at = start + timedelta(days=float(rng.uniform(0, 330)))
        started_at = proposed_at + timedelta(days=float(rng.uniform(1, 7)))
        ended_at = started_at + timedelta(days=float(rng.uniform(30, 120)))
        answered = rng.random(2) >= UNANSWERED
        outcomes.append(
            MatchOutcome(
                match_id=_uuid(rng),
                mentorship_id=_uuid(rng),
                mentee_id=_uuid(rng),
                mentor_id=_uuid(rng),
                ending="completed"
                if completed
                else ("ended_early" if rng.random() < 0.5 else "lapsed"),
                completed=completed,
                mentee_csat=round(1 + 4 * noisy(0.1)) if answered[0] else None,
                mentor_csat=round(1 + 4 * noisy(0.1)) if answered[1] else None,
                mentee_nps=round(10 * noisy(0.1)) if answered[0] else None,
                mentor_nps=round(10 * noisy(0.1)) if answered[1] else None,
                gap_closed=round(noisy(0.08), 4),
                check_ins=int(rng.integers(0, 9)),
                started_at=started_at,
                ended_at=ended_at,
                score=round(float(np.clip(parts @ used, 0.0, 1.0)), 4),
                score_breakdown={
                    name: round(float(v), 4) for name, v in zip(COMPONENTS, parts, strict=True)
                },
                algorithm_version=ALGORITHM_VERSION,
                weights_version=scored_with.version,
                origin="online",
                proposed_at=proposed_at,
            )
        )
        on_step()
    return outcomes


def _parts(rng: np.random.Generator) -> np.ndarray:
    """One proposal's score parts, in `COMPONENTS` order."""
    similarity = rng.beta(4.0, 2.0)
    coverage = np.clip(similarity - rng.uniform(0.0, 0.5), 0.0, 1.0)
    scarcity = rng.uniform(0.3, 0.9)
    was_engineer = float(rng.random() < 0.5)
    industry = rng.choice([0.0, 0.5, 1.0], p=[0.5, 0.25, 0.25])
    timezone = 1.0 if rng.random() < 0.4 else rng.uniform(0.0, 1.0)
    return np.array([similarity, coverage, scarcity, was_engineer, industry, timezone])


def _uuid(rng: np.random.Generator) -> uuid.UUID:
    return uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)), version=4)

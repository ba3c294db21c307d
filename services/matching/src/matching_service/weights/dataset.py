"""Outcomes as a data set: where they come from (the matching database or a JSON export),
the target a fit learns (how well a mentorship went, 0 to 1) and the parts of each proposal's
score it learns from.

The target blends what the mentorship service reports, each part scaled to 0..1:

    gap closed        0.40   share of the mentee's gap levels closed
    completed         0.20   1 when the mentorship was completed, 0 when it ended early or lapsed
    satisfaction      0.25   CSAT of each side that answered, (csat - 1) / 4, averaged
    recommendation    0.15   NPS of each side that answered, nps / 10, averaged

A part nobody reported (no survey answer, no re-assessment) is left out and the others are
weighted up to sum to 1. A mentorship "did well" when its target is at least 0.6.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from mentorship_shared.plumbing.database import connect_pool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..matcher.scoring import COMPONENTS, BoolArray, FloatArray
from ..outcome import MatchOutcome
from ..repository import MatchingRepository

#: How much each part of an outcome weighs in the target.
TARGET_PARTS = {"gap_closed": 0.40, "completed": 0.20, "satisfaction": 0.25, "recommendation": 0.15}
#: A mentorship whose target reaches this did well.
SUCCESS_THRESHOLD = 0.6
EXPORT_KIND = "match-outcomes"


def outcome_target(outcome: MatchOutcome) -> float:
    """How well the mentorship went, 0 to 1 (see the module's docstring)."""
    csat = [c for c in (outcome.mentee_csat, outcome.mentor_csat) if c is not None]
    nps = [n for n in (outcome.mentee_nps, outcome.mentor_nps) if n is not None]
    parts = {
        "gap_closed": outcome.gap_closed,
        "completed": 1.0 if outcome.completed else 0.0,
        "satisfaction": float(np.mean([(c - 1) / 4 for c in csat])) if csat else None,
        "recommendation": float(np.mean([n / 10 for n in nps])) if nps else None,
    }
    known = {name: value for name, value in parts.items() if value is not None}
    total = sum(TARGET_PARTS[name] for name in known)
    return sum(TARGET_PARTS[name] * value for name, value in known.items()) / total


@dataclass(frozen=True)
class OutcomeSet:
    """Outcomes whose proposal has every part of the score, as arrays a model reads."""

    outcomes: list[MatchOutcome]
    #: (n, parts) the parts of each proposal's score, in `COMPONENTS` order.
    features: FloatArray
    target: FloatArray
    success: BoolArray
    #: Outcomes left out because their proposal lacks a part (an older scoring algorithm).
    skipped: int

    @classmethod
    def of(cls, outcomes: Sequence[MatchOutcome]) -> OutcomeSet:
        usable = [o for o in outcomes if set(COMPONENTS) <= set(o.score_breakdown)]
        features = np.array(
            [[o.score_breakdown[name] for name in COMPONENTS] for o in usable], dtype=np.float64
        ).reshape(len(usable), len(COMPONENTS))
        target = np.array([outcome_target(o) for o in usable], dtype=np.float64)
        return cls(
            outcomes=usable,
            features=features,
            target=target,
            success=target >= SUCCESS_THRESHOLD,
            skipped=len(outcomes) - len(usable),
        )

    def __len__(self) -> int:
        return len(self.outcomes)

    def period(self) -> tuple[datetime, datetime] | None:
        """When the first and the last of these mentorships ended."""
        if not self.outcomes:
            return None
        ends = [o.ended_at for o in self.outcomes]
        return min(ends), max(ends)


# --- JSON export ---------------------------------------------------------------------------


class OutcomeExport(BaseModel):
    """A file of outcomes, as `export` writes and `fit`, `replay` read."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(default=EXPORT_KIND, description="Always 'match-outcomes'.")
    exported_at: datetime = Field(description="When the file was written.")
    outcomes: list[MatchOutcome] = Field(description="One per finished mentorship.")


def write_export(path: Path, outcomes: Sequence[MatchOutcome]) -> None:
    export = OutcomeExport(exported_at=datetime.now(UTC), outcomes=list(outcomes))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export.model_dump_json(indent=1) + "\n", encoding="utf-8")


def read_export(path: Path) -> list[MatchOutcome]:
    """The outcomes of an export; a ValueError naming the file and the field when it is not
    one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        export = OutcomeExport.model_validate(data)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from error
    if export.kind != EXPORT_KIND:
        raise ValueError(f"{path} holds {export.kind!r}, not {EXPORT_KIND!r}")
    return export.outcomes


# --- the matching database -------------------------------------------------------------------


async def read_database(
    database_url: str, since: datetime | None = None, until: datetime | None = None
) -> list[MatchOutcome]:
    """The outcomes the matcher kept, ended in [since, until)."""
    pool = await connect_pool(database_url, min_size=1, max_size=1, timeout=10.0)
    try:
        async with pool.acquire() as conn:
            return await MatchingRepository(conn).outcomes(since, until)
    finally:
        await pool.close()

"""How the matcher behaves, as plain values taken from the settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from .matcher.scoring import ScoringConfig, default_config

MatchingMode = Literal["online", "cohort"]


@dataclass(frozen=True)
class MatchPolicy:
    proposal_ttl: timedelta
    waiting_mentees_per_event: int
    #: 'online' proposes as soon as a mentee or a slot appears; 'cohort' leaves waiting
    #: mentees to the next round (a mentee's own request is honoured in both).
    mode: MatchingMode = "online"
    #: A changed mentee profile moves a pending proposal only for a mentor this much better.
    rematch_margin: float = 0.05
    exposure_per_slot: int = 3
    exposure_window: timedelta = timedelta(days=1)
    round_candidates_per_mentee: int = 60
    config: ScoringConfig = field(default_factory=default_config)

    @property
    def online(self) -> bool:
        return self.mode == "online"

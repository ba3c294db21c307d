"""Matching service settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from mentorship_shared.plumbing.settings import ServiceSettings, SessionKeySettings
from pydantic import Field, field_validator

from .matcher.scoring import default_config
from .policy import MatchPolicy
from .weights.files import read_document, read_weights

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class MatchingSettings(ServiceSettings, SessionKeySettings):
    service_name: str = Field(default="matching", description="Service name.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:54329/matching",
        description="PostgreSQL URL of the matching database.",
    )
    http_port: int = Field(default=8002, ge=1, le=65535, description="HTTP port.")
    matching_mode: Literal["online", "cohort"] = Field(
        default="online",
        description=(
            "'online' proposes a mentor as soon as a mentee or a free slot appears; 'cohort' "
            "leaves waiting mentees to the next cohort round (POST /v1/rounds)."
        ),
    )
    proposal_ttl_days: float = Field(
        default=7.0, gt=0, description="Days a proposal stays open before it expires."
    )
    expiry_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often lapsed proposals are looked for."
    )
    waiting_mentees_per_event: int = Field(
        default=500,
        ge=1,
        description="Most waiting mentees a new or freed mentor is offered to per event.",
    )
    rematch_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "A changed mentee profile moves a pending proposal to another mentor only when "
            "that mentor scores at least this much higher."
        ),
    )
    shortlist_exposure_per_slot: int = Field(
        default=3,
        ge=1,
        description="Most other mentees' shortlists a mentor appears on per free slot.",
    )
    shortlist_exposure_hours: float = Field(
        default=24.0, gt=0, description="How long a shortlist appearance counts."
    )
    round_candidates_per_mentee: int = Field(
        default=25,
        ge=1,
        description="Best mentors per mentee a cohort round considers (the sparse graph).",
    )
    scoring_weights_file: Path | None = Field(
        default=None,
        description=(
            "A weights file to score with instead of the packaged weights-v1, such as a "
            "weights-vN.json written by `python -m matching_service.weights fit`; read and "
            "checked at start-up, so new weights apply only when an operator sets this and "
            "restarts the matcher. Proposals record the version they were scored with."
        ),
    )

    @field_validator("scoring_weights_file", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("scoring_weights_file")
    @classmethod
    def _readable_weights(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_document(value)  # a ValueError here names the file and what is wrong
        return value

    def match_policy(self) -> MatchPolicy:
        return MatchPolicy(
            proposal_ttl=timedelta(days=self.proposal_ttl_days),
            waiting_mentees_per_event=self.waiting_mentees_per_event,
            mode=self.matching_mode,
            rematch_margin=self.rematch_margin,
            exposure_per_slot=self.shortlist_exposure_per_slot,
            exposure_window=timedelta(hours=self.shortlist_exposure_hours),
            round_candidates_per_mentee=self.round_candidates_per_mentee,
            config=(
                read_weights(self.scoring_weights_file)
                if self.scoring_weights_file is not None
                else default_config()
            ),
        )

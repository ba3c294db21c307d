"""Matching service settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from mentorship_shared.plumbing.settings import ServiceSettings, SessionKeySettings
from pydantic import Field

from .policy import MatchPolicy

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
        default=60,
        ge=1,
        description=(
            "Best mentors per mentee in a cohort round's first candidate graph; the round then "
            "adds every pair that would raise the total, so this sets its speed, not its result."
        ),
    )
    dashboard_profile_url: str = Field(
        default="http://127.0.0.1:8001",
        description=(
            "Operator dashboard: base URL of the profile service, whose /metrics it reads "
            "(outbox backlog); empty leaves the panel unavailable."
        ),
    )
    dashboard_notification_url: str = Field(
        default="http://127.0.0.1:8003",
        description=(
            "Operator dashboard: base URL of the notification service, whose /metrics it reads "
            "(mails sent and failed, consumer lag, outbox backlog); empty leaves the panel "
            "unavailable."
        ),
    )
    dashboard_peer_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Operator dashboard: how long to wait for a peer's /metrics.",
    )

    def match_policy(self) -> MatchPolicy:
        return MatchPolicy(
            proposal_ttl=timedelta(days=self.proposal_ttl_days),
            waiting_mentees_per_event=self.waiting_mentees_per_event,
            mode=self.matching_mode,
            rematch_margin=self.rematch_margin,
            exposure_per_slot=self.shortlist_exposure_per_slot,
            exposure_window=timedelta(hours=self.shortlist_exposure_hours),
            round_candidates_per_mentee=self.round_candidates_per_mentee,
        )

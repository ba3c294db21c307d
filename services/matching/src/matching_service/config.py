"""Matching service settings, from the environment."""

from __future__ import annotations

from pathlib import Path

from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class MatchingSettings(ServiceSettings):
    service_name: str = Field(default="matching", description="Service name.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:54329/matching",
        description="PostgreSQL URL of the matching database.",
    )
    http_port: int = Field(default=8002, ge=1, le=65535, description="HTTP port.")
    proposal_ttl_days: float = Field(
        default=7.0, gt=0, description="Days a proposal stays open before it expires."
    )
    waiting_mentees_per_event: int = Field(
        default=500,
        ge=1,
        description="Most waiting mentees a new or freed mentor is offered to per event.",
    )

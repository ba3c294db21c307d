"""Profile service settings, from the environment."""

from __future__ import annotations

from pathlib import Path

from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class ProfileSettings(ServiceSettings):
    service_name: str = Field(default="profile", description="Service name.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:54329/profile",
        description="PostgreSQL URL of the profile database.",
    )
    http_port: int = Field(default=8001, ge=1, le=65535, description="HTTP port.")

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
    registration_rate_per_address: int = Field(
        default=20,
        ge=0,
        description=(
            "Valid registration requests one client address may make per window (one refused "
            "with 422 does not count); more get 429 rate_limited with Retry-After. 0 disables "
            "the limit (load tests, a cohort import from one host)."
        ),
    )
    registration_rate_per_email: int = Field(
        default=5,
        ge=0,
        description=(
            "Valid registration requests for one email address (any case) per window, those "
            "refused with 409 because the address is taken included, which slows down probing "
            "for registered addresses; more get 429. 0 disables the limit."
        ),
    )
    registration_rate_window_seconds: int = Field(
        default=3600,
        ge=1,
        description=(
            "Length of the fixed window both registration limits count in; the counts are "
            "kept in PostgreSQL, so every instance of the service shares them."
        ),
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description=(
            "Reverse proxies in front of the service that append to X-Forwarded-For. 0: the "
            "client address is the connection's peer; n: the n-th address from the right of "
            "X-Forwarded-For (the one the outermost trusted proxy saw)."
        ),
    )

"""Profile service settings, from the environment."""

from __future__ import annotations

import hmac
from pathlib import Path

from mentorship_shared.plumbing.sessions import SessionSigner
from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator

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
    session_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "Private Ed25519 key (base64url, 32 bytes) that signs the session credentials of "
            "people signing in through the web pages; the other services get its public key "
            "(SESSION_PUBLIC_KEY, shown by GET /v1/session-key). Unset: sign-in "
            "links and sessions answer 503, owner tokens work as before."
        ),
    )
    session_hours: float = Field(
        default=8.0,
        gt=0,
        le=168,
        description=(
            "How long a session credential works. It cannot be withdrawn before, so keep it "
            "short; signing in again is one mail away."
        ),
    )
    sign_in_link_minutes: float = Field(
        default=15.0, gt=0, le=1440, description="How long a mailed sign-in link works (once)."
    )
    sign_in_rate_per_email: int = Field(
        default=5,
        ge=0,
        description=(
            "Sign-in links one email address may ask for per window, known or not; more get "
            "429. 0 disables the limit."
        ),
    )
    sign_in_rate_per_address: int = Field(
        default=20,
        ge=0,
        description="Sign-in links one client address may ask for per window. 0 disables it.",
    )
    sign_in_rate_window_seconds: int = Field(
        default=3600, ge=1, description="The fixed window both sign-in limits count in."
    )
    frontend_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key the web front end sends (X-Frontend-Key) with registrations and sign-in link "
            "requests it passes on; such a request's client address, for the rate limits, is "
            "the browser's, from the X-Forwarded-For entry the front end adds. Unset: no "
            "request is trusted with that header."
        ),
    )

    @field_validator("session_signing_key")
    @classmethod
    def _signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        SessionSigner(value.get_secret_value())  # refuses a malformed key at start-up
        return value

    def client_hops(self, request_frontend_key: str | None) -> int:
        """Proxy hops to trust in X-Forwarded-For: one more for a request from the web front
        end, which adds the browser's address."""
        trusted = (
            self.frontend_key is not None
            and request_frontend_key is not None
            and hmac.compare_digest(
                request_frontend_key.encode(), self.frontend_key.get_secret_value().encode()
            )
        )
        return self.trusted_proxy_hops + (1 if trusted else 0)

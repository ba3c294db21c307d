"""Web front end settings, from the environment."""

from __future__ import annotations

from mentorship_shared.plumbing.settings import HttpSettings, SessionKeySettings
from pydantic import Field, SecretStr, field_validator


class WebSettings(HttpSettings, SessionKeySettings):
    service_name: str = Field(default="web", description="Service name.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="HTTP port.")
    profile_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the profile service's API."
    )
    matching_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of the matching service's API."
    )
    mentorship_url: str = Field(
        default="http://127.0.0.1:8004", description="Base URL of the mentorship service's API."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Where people reach these pages. An https:// URL marks the cookies Secure (as does "
            "a request that arrives over https); the notification service's WEB_BASE_URL, "
            "which sign-in links point to, should be the same."
        ),
    )
    csrf_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the CSRF tokens of every form. Unset: a random one per process, so forms "
            "shown before a restart, or by another instance, are refused once (set it when "
            "running several instances)."
        ),
    )
    frontend_key: SecretStr | None = Field(
        default=None,
        description=(
            "The profile service's FRONTEND_KEY: sent with registrations and sign-in link "
            "requests, so the profile service counts its rate limits per browser address "
            "(passed in X-Forwarded-For) instead of for this service as a whole."
        ),
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description=(
            "Reverse proxies in front of this service that append to X-Forwarded-For (0: the "
            "browser's address is the connection's peer)."
        ),
    )
    api_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a call to a service's API may take."
    )

    @field_validator("profile_url", "matching_url", "mentorship_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def serves_https(self) -> bool:
        return self.public_url.startswith("https://")

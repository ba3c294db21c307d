"""Notification service settings, from the environment."""

from __future__ import annotations

from pathlib import Path

from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class NotificationSettings(ServiceSettings):
    service_name: str = Field(default="notification", description="Service name.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:54329/notification",
        description="PostgreSQL URL of the notification database.",
    )
    http_port: int = Field(default=8003, ge=1, le=65535, description="HTTP port.")
    web_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Where people reach the web pages (the web front end's PUBLIC_URL): sign-in links "
            "in mails point there."
        ),
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(default=2525, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(
        default=None, description="SMTP login, if the server needs one."
    )
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, description="SMTP timeout per mail.")
    mail_from: str = Field(
        default="Mentorship Matching <matches@mentorship.invalid>",
        description="From header of every mail.",
    )
    message_id_domain: str = Field(
        default="mentorship.invalid", description="Domain part of the Message-ID of every mail."
    )
    send_max_attempts: int = Field(
        default=5, ge=1, description="Send attempts before a notification is marked failed."
    )
    send_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="Delay before the first resend; doubles per attempt."
    )
    mail_daily_limit_per_recipient: int = Field(
        default=20,
        ge=0,
        description=(
            "Most mails one person is sent in any 24 hours; more wait (still pending) until the "
            "oldest of those is a day old, then go out. 0 disables the limit."
        ),
    )
    mail_send_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description=(
            "Mails sent at once, each over an SMTP connection of its own kept open between "
            "mails (every lane also holds a database connection while it sends)."
        ),
    )
    mail_batch_size: int = Field(
        default=1,
        ge=1,
        le=500,
        description=(
            "Mails one lane sends in one database transaction. Larger batches take fewer "
            "transactions, but a crash in the middle of one sends again every mail of it that "
            "had gone out (same Message-ID); 1 repeats at most the mail in flight."
        ),
    )
    dispatcher_poll_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often the dispatcher looks for due mail unprompted."
    )

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # SMTP_USERNAME= in an env file means "no login", not a login with an empty name.
        return None if value == "" else value

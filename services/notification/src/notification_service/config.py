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
    smtp_host: str = Field(
        default="127.0.0.1",
        description="Host name or address of the SMTP server every mail is sent through.",
    )
    smtp_port: int = Field(
        default=2525,
        ge=1,
        le=65535,
        description="Port of that SMTP server (the development sink of `make dev` listens on 2525).",
    )
    smtp_username: str | None = Field(
        default=None,
        description="User name to log in to the SMTP server; unset or empty sends without login.",
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="Password that goes with SMTP_USERNAME."
    )
    smtp_starttls: bool = Field(
        default=False,
        description="Upgrade the SMTP connection to TLS with STARTTLS before logging in.",
    )
    smtp_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How long each SMTP step (connecting, a command, handing over a mail) may take "
            "before the attempt counts as failed."
        ),
    )
    mail_from: str = Field(
        default="Mentorship Matching <matches@mentorship.invalid>",
        description="Sender of every mail, as its From header: a display name and an address.",
    )
    message_id_domain: str = Field(
        default="mentorship.invalid",
        description=(
            "Domain part of every mail's Message-ID. The id is fixed when the mail is queued, "
            "so a resend after a crash carries the same one and can be recognised."
        ),
    )
    send_max_attempts: int = Field(
        default=5,
        ge=1,
        description=(
            "Attempts at sending one mail before it is given up: marked failed and reported "
            "with NotificationFailed."
        ),
    )
    send_retry_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Delay before a failed mail is tried again; doubles per attempt, jittered so that "
            "mails that failed together do not all come back at once."
        ),
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
        default=8,
        ge=1,
        le=32,
        description=(
            "Most mails sent at once, each over an SMTP connection of its own kept open between "
            "mails: batches of MAIL_BATCH_SIZE side by side. A crash sends again at most this "
            "many mails (same Message-ID)."
        ),
    )
    mail_batch_size: int = Field(
        default=8,
        ge=1,
        le=32,
        description=(
            "Mails one database transaction takes and sends at once (at most "
            "MAIL_SEND_CONCURRENCY). Larger batches take fewer transactions and lock queries, "
            "smaller ones run more batches side by side."
        ),
    )
    dispatcher_poll_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description=(
            "How often the mail dispatcher looks for mail that is due (a retry, a mail held by "
            "the daily limit) when no new mail woke it."
        ),
    )

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # SMTP_USERNAME= in an env file means "no login", not a login with an empty name.
        return None if value == "" else value

"""Mentorship service settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mentorship_shared.plumbing.settings import ServiceSettings, SessionKeySettings
from pydantic import Field, model_validator

from .domain import MentorshipPolicy

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class MentorshipSettings(ServiceSettings, SessionKeySettings):
    service_name: str = Field(default="mentorship", description="Service name.")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:54329/mentorship",
        description="PostgreSQL URL of the mentorship database.",
    )
    http_port: int = Field(default=8004, ge=1, le=65535, description="HTTP port.")
    check_in_reminder_lead_hours: float = Field(
        default=48.0,
        gt=0,
        description=(
            "How long before a due check-in both sides are reminded (once per check-in); "
            "never earlier than the previous check-in."
        ),
    )
    closing_window_days: float = Field(
        default=14.0,
        gt=0,
        description=(
            "After a mentorship ends, how many days the closing survey and the mentee's last "
            "re-assessment are taken; then the outcome is recorded with what came in (at once "
            "when both closing answers are in)."
        ),
    )
    scheduler_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the scheduler looks for due reminders, nudges, lapses and outcomes.",
    )
    scheduler_batch_size: int = Field(
        default=100,
        ge=1,
        description="Most due mentorships the scheduler handles in one pass.",
    )
    report_max_months: int = Field(
        default=36,
        ge=1,
        description="Longest range of months one program report covers.",
    )

    dev_clock_control: bool = Field(
        default=False,
        description=(
            "Development and tests only, never in production: run the service's clock ahead "
            "of the system clock by the seconds written in DEV_CLOCK_OFFSET_FILE, so that "
            "reminders, nudges and lapses days away happen now. Needs DEV_CLOCK_OFFSET_FILE; "
            "the service logs a warning that its clock is moved."
        ),
    )
    dev_clock_offset_file: Path | None = Field(
        default=None,
        description=(
            "Only with DEV_CLOCK_CONTROL=true (the service refuses to start otherwise): a file "
            "holding how many seconds the clock runs ahead, as a decimal number, read again "
            "whenever it changes (replace it: write a new file, then rename it over). Missing "
            "is no offset; a smaller or unreadable value is ignored, so time never goes back."
        ),
    )

    @model_validator(mode="after")
    def _clock_control_is_explicit(self) -> MentorshipSettings:
        if self.dev_clock_offset_file is not None and not self.dev_clock_control:
            raise ValueError(
                "DEV_CLOCK_OFFSET_FILE is set but DEV_CLOCK_CONTROL is not true: moving the "
                "clock is for development and tests only and needs both; in production leave "
                "both unset"
            )
        if self.dev_clock_control and self.dev_clock_offset_file is None:
            raise ValueError(
                "DEV_CLOCK_CONTROL=true needs DEV_CLOCK_OFFSET_FILE, the file that holds the "
                "clock's offset in seconds"
            )
        return self

    @property
    def offset_file(self) -> Path | None:
        """The clock's offset file, when development clock control is on."""
        return self.dev_clock_offset_file if self.dev_clock_control else None

    def policy(self) -> MentorshipPolicy:
        return MentorshipPolicy(
            reminder_lead=timedelta(hours=self.check_in_reminder_lead_hours),
            closing_window=timedelta(days=self.closing_window_days),
        )

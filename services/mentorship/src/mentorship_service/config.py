"""Mentorship service settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mentorship_shared.plumbing.settings import ServiceSettings, SessionKeySettings
from pydantic import Field

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

    def policy(self) -> MentorshipPolicy:
        return MentorshipPolicy(
            reminder_lead=timedelta(hours=self.check_in_reminder_lead_hours),
            closing_window=timedelta(days=self.closing_window_days),
        )

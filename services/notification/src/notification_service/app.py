"""The notification service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from mentorship_shared.contracts.topics import NOTIFICATION_EVENTS
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.unit_of_work import UnitOfWork

from . import api
from .config import MIGRATIONS_DIR, NotificationSettings
from .dispatcher import MailDispatcher
from .handlers import (
    match_events_consumer,
    mentorship_events_consumer,
    profile_events_consumer,
)
from .mailer import SmtpMailer
from .repository import NotificationRepository
from .use_cases import DeliveryPolicy


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    mailer = SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )
    uow = UnitOfWork.of(settings, NotificationRepository)
    dispatcher = MailDispatcher(
        uow,
        mailer,
        DeliveryPolicy(
            mail_from=settings.mail_from,
            message_id_domain=settings.message_id_domain,
            max_attempts=settings.send_max_attempts,
            retry_base_seconds=settings.send_retry_base_seconds,
            daily_limit_per_recipient=settings.mail_daily_limit_per_recipient,
        ),
        poll_interval=settings.dispatcher_poll_interval_seconds,
        batch_size=settings.mail_batch_size,
        concurrency=settings.mail_send_concurrency,
    )
    runtime = ServiceRuntime(
        settings,
        uow=uow,
        migrations_dir=MIGRATIONS_DIR,
        consumers=[
            profile_events_consumer(settings),
            match_events_consumer(settings),
            mentorship_events_consumer(settings),
        ],
        workers=[dispatcher],
        publishes=[NOTIFICATION_EVENTS],
    )
    return create_service_app(
        runtime,
        title="Notification service",
        description=(
            "Emails both people of every match event (proposed, accepted, declined, expired) "
            "and of a mentorship's milestones (started, check-in reminders and nudges, survey "
            "invitations, the end) over SMTP, at most once per event and recipient, and "
            "publishes `NotificationSent` or `NotificationFailed`."
        ),
        routers=[api.router],
    )

"""The mentorship service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from mentorship_shared.contracts.topics import MENTORSHIP_EVENTS
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.unit_of_work import UnitOfWork

from . import api, metrics
from .config import MIGRATIONS_DIR, MentorshipSettings
from .handlers import match_events_consumer, profile_events_consumer
from .repository import MentorshipRepository
from .scheduler import CheckInScheduler
from .use_cases import Clock, system_clock


def create_app(
    settings: MentorshipSettings | None = None, *, clock: Clock = system_clock
) -> FastAPI:
    """The service's app; `clock` is its "now" everywhere (tests pass one they can move)."""
    settings = settings or MentorshipSettings()
    policy = settings.policy()
    uow = UnitOfWork.of(settings, MentorshipRepository)
    runtime = ServiceRuntime(
        settings,
        uow=uow,
        migrations_dir=MIGRATIONS_DIR,
        consumers=[match_events_consumer(policy), profile_events_consumer(policy, clock)],
        workers=[
            CheckInScheduler(
                uow,
                policy,
                clock,
                poll_interval=settings.scheduler_poll_seconds,
                batch_size=settings.scheduler_batch_size,
            )
        ],
        publishes=[MENTORSHIP_EVENTS],
        metrics_refreshers=[_count_mentorships_by_status],
    )
    app = create_service_app(
        runtime,
        title="Mentorship service",
        description=(
            "Runs a mentorship from the accepted match to its outcome: goals on the mentee's "
            "skill gaps, check-ins on an agreed cadence with reminders, short surveys (CSAT "
            "and NPS) after the first check-in and at the end, re-assessment of the gaps, and "
            "the ending. Consumes `match.events` and `profile.events`, publishes "
            "`mentorship.events` through a transactional outbox."
        ),
        routers=[api.router],
    )
    app.state.clock = clock
    return app


async def _count_mentorships_by_status(repo: MentorshipRepository) -> None:
    """`mentorship_mentorships{status}`, before each scrape of /metrics."""
    counts = await repo.count_by_status()
    for status in metrics.MENTORSHIP_STATUSES:
        metrics.MENTORSHIPS.labels(status).set(counts.get(status, 0))

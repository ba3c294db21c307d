"""The matching service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from mentorship_shared.contracts.topics import MATCH_EVENTS
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.unit_of_work import UnitOfWork

from . import api, metrics, operator_stats
from .config import MIGRATIONS_DIR, MatchingSettings
from .expiry import ProposalExpirer
from .handlers import mentorship_events_consumer, profile_events_consumer
from .match import MatchStatus
from .repository import MatchingRepository
from .use_cases.common import Matchmaker


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    uow = UnitOfWork.of(settings, MatchingRepository)
    # One matchmaker per process: its mentor directory is the cached pool every consumer,
    # route and worker of this service scores against.
    matchmaker = Matchmaker.with_directory(settings.match_policy())
    runtime = ServiceRuntime(
        settings,
        uow=uow,
        migrations_dir=MIGRATIONS_DIR,
        consumers=[profile_events_consumer(matchmaker), mentorship_events_consumer(matchmaker)],
        workers=[
            ProposalExpirer(uow, matchmaker, poll_interval=settings.expiry_poll_seconds),
        ],
        publishes=[MATCH_EVENTS],
        metrics_refreshers=[_count_matches_by_status],
    )
    app = create_service_app(
        runtime,
        title="Matching service",
        description=(
            "Pairs each engineer moving into product management with the mentor whose strengths "
            "best cover the engineer's skill gaps, with a learning plan for the gaps no mentor "
            "covers. Consumes `profile.events` and `mentorship.events` (a mentorship's end "
            "frees its mentor's slot; its outcome is kept for fitting the score's weights "
            "offline), publishes `match.events` through a transactional outbox."
        ),
        routers=[api.router, operator_stats.router],
    )
    api.serve_with(app, matchmaker)
    return app


async def _count_matches_by_status(repo: MatchingRepository) -> None:
    """`mentorship_matches{status}`, before each scrape of /metrics."""
    counts = await repo.count_matches_by_status()
    for status in MatchStatus:
        metrics.MATCHES.labels(status).set(counts.get(status, 0))

"""The profile service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.unit_of_work import UnitOfWork

from . import api
from .config import MIGRATIONS_DIR, ProfileSettings
from .repository import PostgresProfileStore


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    settings = settings or ProfileSettings()
    runtime = ServiceRuntime(
        settings,
        uow=UnitOfWork.of(settings, PostgresProfileStore),
        migrations_dir=MIGRATIONS_DIR,
        publishes=[PROFILE_EVENTS],
    )
    return create_service_app(
        runtime,
        title="Profile service",
        description=(
            "Engineers moving into product management register here as mentees with a "
            "self-assessment of product-management skills; product managers register as mentors. "
            "Every change is published to `profile.events` through a transactional outbox."
        ),
        routers=[api.router],
    )

"""Fixtures of the profile service's integration tests: its own database and the service
in-process on the test's topics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from devstack.testing import KafkaHandle
from profile_service.app import create_app
from profile_service.config import ProfileSettings

from tests.support.services import FAST_KAFKA, serve_in_process


@pytest.fixture
async def profile_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("profile")


@pytest.fixture
async def api(
    profile_db: str, kafka: KafkaHandle, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ProfileSettings(
        database_url=profile_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        operator_api_key="operator-secret-for-tests",
        **FAST_KAFKA,
    )
    async with serve_in_process(create_app(settings)) as client:
        yield client

"""Fixtures for integration tests of several services: the matching service in-process on its
own database (the matching service's own fixtures are in matching/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from devstack.testing import KafkaHandle
from matching_service.app import create_app
from matching_service.config import MatchingSettings

from tests.support.services import FAST_KAFKA, OPERATOR_KEY, serve_in_process


@pytest.fixture
async def matching_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("matching")


@pytest.fixture
async def matcher(
    matching_db: str, kafka: KafkaHandle, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The matching service in-process on its own database and topics, quick to dead-letter."""
    settings = MatchingSettings(
        database_url=matching_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        consumer_max_attempts=2,
        consumer_retry_base_seconds=0.05,
        operator_api_key=OPERATOR_KEY,
        **FAST_KAFKA,
    )
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY) as client:
        yield client

"""Fixtures of the notification service's integration tests: its own database and the service
in-process, sending to a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from notification_service.app import create_app

from tests.support.services import OPERATOR_KEY, notifier_settings, serve_in_process


@pytest.fixture
async def notification_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("notification")


@pytest.fixture
async def notifier(
    notification_db: str, kafka: KafkaHandle, namespace: str, smtp_sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = notifier_settings(
        notification_db,
        kafka,
        namespace,
        smtp_port=smtp_sink.port,
        dispatcher_poll_interval_seconds=0.2,
    )
    async with serve_in_process(create_app(settings), bearer=OPERATOR_KEY) as client:
        yield client

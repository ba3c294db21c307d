"""Running a service in-process against the real database and broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from fastapi import FastAPI
from mentorship_service.config import MentorshipSettings
from notification_service.config import NotificationSettings

T = TypeVar("T")

#: Settings every test service gets: a short consumer-group session so the embedded broker
#: admits members quickly, and a fast outbox poll.
FAST_KAFKA = {
    "kafka_session_timeout_ms": 4000,
    "kafka_heartbeat_interval_ms": 1000,
    "outbox_poll_interval_seconds": 0.2,
    "startup_timeout_seconds": 30.0,
}


#: The operator key the in-process services of the tests are started with.
OPERATOR_KEY = "operator-key-of-the-tests"


@asynccontextmanager
async def serve_in_process(
    app: FastAPI, *, bearer: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (pool, migrations, consumers, relay) and give an HTTP client,
    sending `Authorization: Bearer <bearer>` with every request when given."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=headers
        ) as client:
            yield client


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll `probe` until `accept` holds for its result; fail with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last result: {result!r}")
        await asyncio.sleep(interval)


async def mail_received(sink: SmtpSink, count: int, *, timeout: float = 20.0) -> list[EmailMessage]:
    """Wait, without blocking the event loop, until the sink holds at least `count` mails.

    In-process services share the test's event loop, so a blocking wait would stop them too.
    """

    async def messages() -> list[EmailMessage]:
        return sink.messages()

    return await eventually(messages, lambda mails: len(mails) >= count, timeout=timeout)


def notifier_settings(
    database_url: str, kafka: KafkaHandle, namespace: str, **overrides: Any
) -> NotificationSettings:
    """Settings of a notification service under test; `overrides` change single ones."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "kafka_topic_namespace": namespace,
        "smtp_host": "127.0.0.1",
        "dispatcher_poll_interval_seconds": 0.2,
        "operator_api_key": OPERATOR_KEY,
        **FAST_KAFKA,
        **overrides,
    }
    return NotificationSettings(**values)


def mentorship_settings(
    database_url: str, kafka: KafkaHandle, namespace: str, **overrides: Any
) -> MentorshipSettings:
    """Settings of a mentorship service under test: a scheduler that looks every 0.1 s (tests
    move its clock instead of waiting) and quick dead letters; `overrides` change single ones."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "kafka_topic_namespace": namespace,
        "operator_api_key": OPERATOR_KEY,
        "scheduler_poll_seconds": 0.1,
        "consumer_max_attempts": 2,
        "consumer_retry_base_seconds": 0.05,
        **FAST_KAFKA,
        **overrides,
    }
    return MentorshipSettings(**values)

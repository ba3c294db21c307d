"""The three services as separate processes, exactly as `make dev` runs them (a
:class:`devstack.stack.Stack`), on the session's servers with the test's own databases, topic
namespace and SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack
from devstack.testing import KafkaHandle, PostgresHandle

from tests.support.services import OPERATOR_KEY

SERVICES = ("profile", "matching", "notification")


@pytest.fixture
async def stack(
    postgres: PostgresHandle,
    kafka: KafkaHandle,
    namespace: str,
    unique: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    stack = Stack(
        tmp_path / "stack",
        postgres=postgres.admin_url,
        broker=kafka.bootstrap_servers,
        smtp=(smtp_sink.host, smtp_sink.port),
        namespace=namespace,
        database_suffix=f"_{unique}",
        settings={"OUTBOX_POLL_INTERVAL_SECONDS": "0.2", "LOG_FORMAT": "json"},
        operator_api_key=OPERATOR_KEY,
    )
    try:
        await stack.astart(ready_timeout=90)
        yield stack
    finally:
        await stack.astop()

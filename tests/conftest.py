"""Fixtures every tier shares: real servers (PostgreSQL, a Kafka-protocol broker, SMTP) and
unique names per test, so tests never see each other's data."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle, PostgresHandle, kafka_broker, postgres_server
from mentorship_shared.contracts.topics import topic_partitions
from mentorship_shared.plumbing.broker import ensure_topics


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresHandle]:
    """A real PostgreSQL server: from the environment, testcontainers, or embedded."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaHandle]:
    """A real Kafka-protocol broker: from the environment, testcontainers, or embedded."""
    with kafka_broker() as broker:
        yield broker


@pytest.fixture
def unique() -> str:
    """A short id unique to this test, for names, emails and namespaces."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def namespace(kafka: KafkaHandle, unique: str) -> str:
    """A topic namespace of this test, with every topic created."""
    prefix = f"t{unique}."
    await ensure_topics(kafka.bootstrap_servers, topic_partitions(prefix))
    return prefix


@pytest.fixture
def new_database(postgres: PostgresHandle, unique: str) -> Callable[[str], Awaitable[str]]:
    """Create a fresh database for this test: `await new_database("profile")` gives its URL."""

    async def create(name: str) -> str:
        return await postgres.create_database(f"{name}_{unique}")

    return create


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """A real SMTP server that keeps every mail it receives."""
    sink = SmtpSink(maildir=tmp_path / "mail")
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


#: Lines a test wants in the run's final summary (such as how much a fuzzer ran).
SUMMARY_LINES = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUMMARY_LINES] = []
    # A cancelled CI job gets SIGTERM: unwind as Ctrl-C does, so every fixture's teardown
    # stops the servers and services it started instead of leaving them to the kernel.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY_LINES, []):
        terminalreporter.write_line(line)


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the summary printed at the end of the run."""
    return request.config.stash[SUMMARY_LINES].append

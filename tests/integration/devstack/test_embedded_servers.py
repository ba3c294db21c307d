"""The embedded servers are real: PostgreSQL answers SQL, Tansu speaks Kafka, the sink takes SMTP."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from devstack.broker import BrokerError, EmbeddedKafka
from devstack.postgres import EmbeddedPostgres, PostgresError
from devstack.processes import free_port, pid_is_alive, port_is_open, wait_for_port
from devstack.smtp_sink import SmtpSink
from devstack.testing import ENV_USE_DOCKER, docker_available, kafka_broker, postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A scratch folder for a PostgreSQL cluster, outside pytest's tmp_path on purpose.

    As root, PostgreSQL runs as another account that needs o+x on every folder above its
    data. pytest resets its shared /tmp/pytest-of-<user> folder to 0700 whenever another
    pytest session starts, which would lock that account out in the middle of a test.
    """
    with tempfile.TemporaryDirectory(prefix="devstack-test-") as tmp:
        yield Path(tmp)


def make_mail(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "matching@mentorship.test"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("You have a new match.")
    return message


# -- PostgreSQL ------------------------------------------------------------------------


async def test_postgres_runs_queries_and_keeps_data_across_restart(server_dir: Path) -> None:
    server = EmbeddedPostgres(server_dir / "data", durable=False)
    server.start()
    try:
        first_pid = server.pid
        assert first_pid is not None
        server.ensure_database("profile")
        server.ensure_database("profile")  # idempotent
        conn = await asyncpg.connect(server.url("profile"))
        try:
            await conn.execute("CREATE TABLE mentor (name text PRIMARY KEY)")
            await conn.execute("INSERT INTO mentor VALUES ('Ada')")
            assert await conn.fetchval("SHOW max_connections") == "300"
        finally:
            await conn.close()

        port = server.port
        server.restart()
        assert server.port == port
        assert not pid_is_alive(first_pid)

        conn = await asyncpg.connect(server.url("profile"))
        try:
            assert await conn.fetchval("SELECT name FROM mentor") == "Ada"
        finally:
            await conn.close()
        last_pid = server.pid
    finally:
        server.stop()
    assert last_pid is not None
    assert not pid_is_alive(last_pid)
    assert not port_is_open("127.0.0.1", port)


async def test_postgres_recovers_after_being_killed(server_dir: Path) -> None:
    server = EmbeddedPostgres(server_dir / "data")  # durable: a crash must not lose commits
    server.start()
    try:
        await server.aensure_database("matching")
        conn = await asyncpg.connect(server.url("matching"))
        try:
            await conn.execute("CREATE TABLE t AS SELECT 42 AS answer")
        finally:
            await conn.close()
        server.kill()
        # The stale pid file now names a live process that is not a postgres at all (us),
        # which PostgreSQL itself would refuse to start over.
        (server_dir / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n")
        server.start()
        conn = await asyncpg.connect(server.url("matching"))
        try:
            assert await conn.fetchval("SELECT answer FROM t") == 42
        finally:
            await conn.close()
    finally:
        server.stop()


def test_postgres_startup_failure_quotes_its_log(server_dir: Path) -> None:
    broken = EmbeddedPostgres(server_dir / "data", durable=False, max_connections=-1)
    with pytest.raises(PostgresError, match=r"(?s)exited.*max_connections"):
        broken.start(timeout=20)
    assert not broken.running
    assert broken.log_path == server_dir / "data.log"


def test_postgres_refuses_a_port_in_use(server_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PostgresError, match="already in use"):
            EmbeddedPostgres(server_dir / "data", port=port).start()


# -- Kafka-protocol broker -------------------------------------------------------------


async def test_broker_serves_topics_groups_and_commits() -> None:
    async with EmbeddedKafka() as broker:
        pid = broker.pid
        bootstrap = broker.bootstrap_servers
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("match.proposed", 3, 1)])
            assert "match.proposed" in await admin.list_topics()
        finally:
            await admin.close()

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            for i in range(9):
                await producer.send_and_wait("match.proposed", b"event-%d" % i, key=b"k%d" % i)
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            "match.proposed",
            bootstrap_servers=bootstrap,
            group_id="notification",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            received: list[bytes] = []
            deadline = time.monotonic() + 30
            while len(received) < 9 and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                received += [r.value for records in batches.values() for r in records if r.value]
            assert sorted(received) == sorted(b"event-%d" % i for i in range(9))
            await consumer.commit()
            partitions = [TopicPartition("match.proposed", p) for p in range(3)]
            committed = [await consumer.committed(tp) for tp in partitions]
            assert sum(c or 0 for c in committed) == 9
            # Spread over the partitions by key, so the three-partition topic is real.
            assert sum(1 for c in committed if c) >= 2
        finally:
            await consumer.stop()
    assert pid is not None
    assert not pid_is_alive(pid)


def test_broker_restart_keeps_the_port_and_forgets_topics(tmp_path: Path) -> None:
    broker = EmbeddedKafka(log_path=tmp_path / "kafka.log")
    broker.start()  # the blocking variant, outside any event loop

    async def topics() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        try:
            if not await admin.list_topics():
                await admin.create_topics([NewTopic("before-restart", 1, 1)])
            return set(await admin.list_topics())
        finally:
            await admin.close()

    try:
        assert asyncio.run(topics()) == {"before-restart"}
        port, first_pid = broker.port, broker.pid
        broker.restart()
        assert broker.port == port
        assert first_pid is not None
        assert not pid_is_alive(first_pid)
        # Memory storage: the old topic is gone, so topics() creates it afresh.
        assert asyncio.run(topics()) == {"before-restart"}
    finally:
        broker.stop()
    assert "listening on" in (tmp_path / "kafka.log").read_text()


def test_broker_refuses_a_port_in_use() -> None:
    with EmbeddedKafka() as running:
        with pytest.raises(BrokerError, match="already in use"):
            EmbeddedKafka(port=running.port).start()
        assert running.running


# -- SMTP sink -------------------------------------------------------------------------


def test_smtp_sink_writes_each_mail_as_an_eml_file(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    with SmtpSink(maildir=maildir) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
            client.send_message(make_mail("mentee@example.org", "Your mentor: Grace"))
            client.send_message(
                make_mail("mentor@example.org", "Your mentee: Alan"),
                to_addrs=["mentor@example.org", "audit@example.org"],
            )
        found = sink.wait_for(lambda m: "Alan" in str(m["Subject"]), timeout=5)
        assert found[0]["X-Envelope-To"] == "mentor@example.org, audit@example.org"
        assert [str(m["Subject"]) for m in sink.messages()] == [
            "Your mentor: Grace",
            "Your mentee: Alan",
        ]
        assert len(sink.received) == 2
        files = sorted(p.name for p in maildir.iterdir())
        assert len(files) == 2
        assert all(name.endswith(".eml") for name in files)
        with pytest.raises(TimeoutError, match="holds 2"):
            sink.wait_for(lambda m: "nobody" in str(m["To"]), timeout=0.2)
        sink.clear()
        assert sink.messages() == []
        assert list(maildir.iterdir()) == []


def test_smtp_sink_runs_standalone_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.smtp_sink", "--port", str(port), "--maildir", maildir],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(make_mail("someone@example.org", "Standalone"))
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output.decode()
    assert b"listening on" in output
    reader = SmtpSink(maildir=maildir)  # reading another process's mail, never started
    assert [str(m["Subject"]) for m in reader.messages()] == ["Standalone"]


# -- devstack.testing ------------------------------------------------------------------


def test_docker_check_answers_quickly() -> None:
    started = time.monotonic()
    docker_available()
    assert time.monotonic() - started < 5


async def test_test_servers_fall_back_to_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENTORSHIP_TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("MENTORSHIP_TEST_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv(ENV_USE_DOCKER, "0")
    with postgres_server() as pg, kafka_broker() as kafka:
        assert pg.kind == "embedded"
        assert kafka.kind == "embedded"
        url = await pg.create_database("inbox_test")
        assert url == pg.url("inbox_test")
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "inbox_test"
        finally:
            await conn.close()
        assert pg.can_restart
        assert kafka.can_restart
        pg_port = int(pg.admin_url.rsplit(":", 1)[1].split("/")[0])
        kafka_port = int(kafka.bootstrap_servers.rsplit(":", 1)[1])

        # The environment wins over everything else.
        monkeypatch.setenv("MENTORSHIP_TEST_DATABASE_URL", pg.admin_url)
        with postgres_server() as from_env:
            assert from_env.kind == "env"
            assert from_env.url("x") == pg.url("x")
            assert not from_env.can_restart
    assert not port_is_open("127.0.0.1", pg_port)
    assert not port_is_open("127.0.0.1", kafka_port)

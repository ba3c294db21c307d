"""The shared outbox relay and inbox consumer against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from devstack.testing import KafkaHandle
from faststream.kafka import KafkaBroker
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import ProfileDeleted
from mentorship_shared.contracts.topics import PROFILE_EVENTS, dead_letter_topic
from mentorship_shared.plumbing import metrics, relay, tracing
from mentorship_shared.plumbing.broker import create_broker
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.consumer_group import ConsumerGroup
from mentorship_shared.plumbing.database import (
    Connection,
    apply_migrations,
    connect_pool,
    plumbing_migrations,
)
from mentorship_shared.plumbing.outbox import BufferedOutbox, Outbox, forget_published
from mentorship_shared.plumbing.relay import OutboxRelay, purge_published
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.settings import ServiceSettings
from mentorship_shared.plumbing.subscription import subscribe
from mentorship_shared.plumbing.unit_of_work import Transaction, UnitOfWork

from tests.support.kafka import produce, read_topic
from tests.support.services import FAST_KAFKA, eventually, serve_in_process

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    url = await new_database("plumbing")
    pool = await connect_pool(url, min_size=1, max_size=6, timeout=10)
    await apply_migrations(pool, plumbing_migrations())
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (event_id uuid, profile_id uuid)")
    try:
        yield pool
    finally:
        await pool.close()


#: The test consumers' transactions: no repository of their own, they write on the connection.
Tx = Transaction[Connection]


def unit_of_work(pool: asyncpg.Pool) -> UnitOfWork[Connection]:
    uow = UnitOfWork(lambda conn: conn, producer="test")
    uow.bind(pool)
    return uow


def deletion(profile_id: uuid.UUID | None = None) -> ProfileDeleted:
    return ProfileDeleted(profile_id=profile_id or uuid.uuid4(), kind="mentee", version=2)


async def record_effect(tx: Tx, envelope: EventEnvelope, event: ProfileDeleted) -> None:
    """The effect of the test consumers here: one row per handled event."""
    await tx.conn.execute(
        "INSERT INTO effects VALUES ($1, $2)", envelope.event_id, event.profile_id
    )


def effects_consumer(name: str) -> EventConsumer:
    """A consumer whose only handler records the effect of each ProfileDeleted."""
    consumer = EventConsumer(name, PROFILE_EVENTS)
    consumer.on(ProfileDeleted)(record_effect)
    return consumer


async def test_the_relay_publishes_rows_that_commit_out_of_id_order(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    relay = OutboxRelay(
        bootstrap_servers=kafka.bootstrap_servers,
        service="test",
        topic_namespace=namespace,
        poll_interval=0.1,
    )
    first, second = deletion(), deletion()
    slow = await pool.acquire()
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await Outbox(slow, producer="test").publish(first)  # takes the lower id, commits last
        async with pool.acquire() as fast, fast.transaction():
            await Outbox(fast, producer="test").publish(second)
        await relay.start(pool)
        topic = f"{namespace}{PROFILE_EVENTS}"
        await read_topic(kafka.bootstrap_servers, topic, until=lambda rs: len(rs) == 1)
        await slow_tx.commit()
        records = await read_topic(kafka.bootstrap_servers, topic, until=lambda rs: len(rs) == 2)
    finally:
        await relay.stop()
        await pool.release(slow)

    published = {EventEnvelope.from_json(r.value).payload["profile_id"] for r in records}
    assert published == {str(first.profile_id), str(second.profile_id)}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0


@pytest.mark.parametrize(("linger", "batches"), [(0.5, 1), (0.0, 2)])
async def test_rows_committed_while_the_relay_lingers_go_out_in_its_batch(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str, linger: float, batches: int
) -> None:
    relay = OutboxRelay(
        bootstrap_servers=kafka.bootstrap_servers,
        service="test",
        topic_namespace=namespace,
        poll_interval=30.0,  # only the commits' notifications wake it
        linger_seconds=linger,
    )
    topic = f"{namespace}{PROFILE_EVENTS}"
    await relay.start(pool)
    try:
        # A first row, so that the producer is up before the clock matters.
        async with pool.acquire() as conn, conn.transaction():
            await Outbox(conn, producer="test").publish(deletion())
        await read_topic(kafka.bootstrap_servers, topic, until=lambda records: len(records) == 1)
        async with pool.acquire() as conn, conn.transaction():
            await Outbox(conn, producer="test").publish(deletion())  # wakes the relay
        await asyncio.sleep(0.2)  # without a linger, this row is out by now
        async with pool.acquire() as conn, conn.transaction():
            for _ in range(2):
                await Outbox(conn, producer="test").publish(deletion())
        await read_topic(kafka.bootstrap_servers, topic, until=lambda records: len(records) == 4)
        async with pool.acquire() as conn:
            # Rows published together share their transaction's timestamp.
            published_at = await eventually(
                lambda: conn.fetch("SELECT published_at FROM outbox ORDER BY id OFFSET 1"),
                lambda rows: all(row["published_at"] is not None for row in rows),
            )
    finally:
        await relay.stop()
    assert len({row["published_at"] for row in published_at}) == batches


async def consumer_broker(
    kafka: KafkaHandle,
    namespace: str,
    consumer: EventConsumer,
    pool: asyncpg.Pool,
    group: str,
    *,
    batch_size: int = 1,
) -> KafkaBroker:
    broker = create_broker(kafka.bootstrap_servers, enable_idempotence=False, client_id="test")
    consumers = ConsumerGroup("test", [consumer], namespace=namespace)
    subscribe(
        broker,
        consumers,
        group_id=f"{group}.{consumer.name}",
        session_timeout_ms=4000,
        heartbeat_interval_ms=1000,
        batch_size=batch_size,
    )
    consumers.bind(unit_of_work(pool), max_attempts=3, retry_base_seconds=0.01)
    await broker.start()
    return broker


async def test_offsets_are_committed_after_the_effect_so_a_restart_redelivers_nothing(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    calls: list[uuid.UUID] = []
    consumer = EventConsumer(f"effects-{namespace}", PROFILE_EVENTS)
    duplicates = metrics.EVENTS_CONSUMED.labels(
        consumer.name, PROFILE_EVENTS, "ProfileDeleted", "duplicate"
    )

    @consumer.on(ProfileDeleted)
    async def record(tx: Tx, envelope: EventEnvelope, event: ProfileDeleted) -> None:
        calls.append(envelope.event_id)
        await record_effect(tx, envelope, event)

    topic = f"{namespace}{PROFILE_EVENTS}"
    events = [EventEnvelope.wrap(deletion(), producer="test").to_json() for _ in range(5)]
    await produce(kafka.bootstrap_servers, topic, events, key=b"one-partition")

    broker = await consumer_broker(kafka, namespace, consumer, pool, group=f"{namespace}g")
    try:
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 5)
    finally:
        await broker.stop()
    # Same group again: everything was committed, so nothing comes back.
    await produce(kafka.bootstrap_servers, topic, events[:1], key=b"one-partition")  # a duplicate
    broker = await consumer_broker(kafka, namespace, consumer, pool, group=f"{namespace}g")
    try:
        await eventually(lambda: _count(pool, "processed_events"), lambda n: n == 5)
        marker = EventEnvelope.wrap(deletion(), producer="test")
        await produce(kafka.bootstrap_servers, topic, [marker.to_json()], key=b"one-partition")
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 6)
    finally:
        await broker.stop()
    assert len(calls) == 6
    assert len(set(calls)) == 6
    # Only the one re-published event came again: the first five were committed.
    assert duplicates._value.get() == 1


async def test_a_handler_that_keeps_failing_is_dead_lettered_and_the_partition_moves_on(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    attempts: dict[uuid.UUID, int] = {}
    doomed = deletion()
    consumer = EventConsumer("flaky", PROFILE_EVENTS)

    @consumer.on(ProfileDeleted)
    async def fail_for_doomed(tx: Tx, envelope: EventEnvelope, event: ProfileDeleted) -> None:
        attempts[event.profile_id] = attempts.get(event.profile_id, 0) + 1
        await record_effect(tx, envelope, event)
        if event.profile_id == doomed.profile_id:
            raise RuntimeError("this event can never be handled")

    survivor = deletion()
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(
        kafka.bootstrap_servers,
        topic,
        [EventEnvelope.wrap(e, producer="test").to_json() for e in (doomed, survivor)],
        key=b"one-partition",
        headers=[("trace", b"abc123")],
    )
    broker = await consumer_broker(kafka, namespace, consumer, pool, group=f"{namespace}g")
    relay = OutboxRelay(
        bootstrap_servers=kafka.bootstrap_servers,
        service="test",
        topic_namespace=namespace,
        poll_interval=0.1,
    )
    await relay.start(pool)
    try:
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 1)
        [dead] = await read_topic(
            kafka.bootstrap_servers,
            f"{namespace}{dead_letter_topic(PROFILE_EVENTS)}",
            until=lambda rs: len(rs) == 1,
        )
    finally:
        await relay.stop()
        await broker.stop()

    assert attempts == {doomed.profile_id: 3, survivor.profile_id: 1}
    headers = {name: value.decode() for name, value in dead.headers}
    assert headers["dlq-reason"] == "handler_failed"
    assert "can never be handled" in headers["dlq-error"]
    assert headers["trace"] == "abc123"  # the original headers travel along
    assert EventEnvelope.from_json(dead.value).payload["profile_id"] == str(doomed.profile_id)
    async with pool.acquire() as conn:
        # The failed attempts rolled back: only the survivor's effect is there.
        assert await conn.fetchval("SELECT profile_id FROM effects") == survivor.profile_id


async def test_a_batch_of_records_is_handled_in_one_transaction_with_one_commit(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    consumer = effects_consumer(f"batched-{namespace}")

    events = [EventEnvelope.wrap(deletion(), producer="test").to_json() for _ in range(12)]
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(kafka.bootstrap_servers, topic, events, key=b"one-partition")
    group = f"{namespace}g"
    broker = await consumer_broker(kafka, namespace, consumer, pool, group, batch_size=50)
    try:
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 12)
    finally:
        await broker.stop()
    async with pool.acquire() as conn:
        # Fetched together, handled together: the inbox rows share one transaction id.
        transactions = await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM effects")
        assert transactions < 12
    # And the batch's offsets were committed: the same group gets nothing again.
    broker = await consumer_broker(kafka, namespace, consumer, pool, group, batch_size=50)
    try:
        marker = EventEnvelope.wrap(deletion(), producer="test")
        await produce(kafka.bootstrap_servers, topic, [marker.to_json()], key=b"one-partition")
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 13)
    finally:
        await broker.stop()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(DISTINCT event_id) FROM effects") == 13


async def test_a_batch_skips_events_processed_before_and_handles_a_repeated_one_once(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    consumer = effects_consumer(f"inbox-{namespace}")

    envelopes = [EventEnvelope.wrap(deletion(), producer="test") for _ in range(8)]
    async with pool.acquire() as conn:  # two of them were processed before
        await conn.executemany(
            "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)",
            [(consumer.name, e.event_id, e.event_type) for e in envelopes[:2]],
        )
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(
        kafka.bootstrap_servers, topic, [e.to_json() for e in envelopes], key=b"one-partition"
    )
    group = f"{namespace}g"
    broker = await consumer_broker(kafka, namespace, consumer, pool, group, batch_size=50)
    try:
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 6)
        # The same event twice in one batch, and once more alone: handled once.
        again = [envelopes[5].to_json(), envelopes[5].to_json()]
        marker = EventEnvelope.wrap(deletion(), producer="test")
        await produce(
            kafka.bootstrap_servers, topic, [*again, marker.to_json()], key=b"one-partition"
        )
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 7)
        await produce(kafka.bootstrap_servers, topic, again[:1], key=b"one-partition")
        await asyncio.sleep(1.0)  # time for a wrong second effect to show
    finally:
        await broker.stop()
    async with pool.acquire() as conn:
        handled = await conn.fetch("SELECT event_id, xmin::text AS tx FROM effects")
    assert sorted(str(r["event_id"]) for r in handled) == sorted(
        str(e.event_id) for e in [*envelopes[2:], marker]
    )
    # The first six went through the batch path: fewer transactions than effects.
    first_six = {str(e.event_id) for e in envelopes[2:]}
    assert len({r["tx"] for r in handled if str(r["event_id"]) in first_six}) < 6


async def test_a_batch_with_a_failing_and_a_malformed_record_falls_back_to_one_at_a_time(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    consumer = EventConsumer(f"fallback-{namespace}", PROFILE_EVENTS)
    good = [deletion() for _ in range(8)]
    flaky = good[3]
    attempts: dict[uuid.UUID, int] = {}

    @consumer.on(ProfileDeleted)
    async def record(tx: Tx, envelope: EventEnvelope, event: ProfileDeleted) -> None:
        attempts[event.profile_id] = attempts.get(event.profile_id, 0) + 1
        await record_effect(tx, envelope, event)
        if event.profile_id == flaky.profile_id and attempts[event.profile_id] == 1:
            raise RuntimeError("fails the first time only")

    values = [EventEnvelope.wrap(e, producer="test").to_json() for e in good]
    values.insert(5, b"{ not json")
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(kafka.bootstrap_servers, topic, values, key=b"one-partition")
    broker = await consumer_broker(kafka, namespace, consumer, pool, f"{namespace}g", batch_size=50)
    try:
        await eventually(lambda: _count(pool, "effects"), lambda n: n == 8)
        await eventually(
            lambda: _count(pool, "outbox"), lambda n: n == 1
        )  # the malformed record's dead letter
    finally:
        await broker.stop()
    async with pool.acquire() as conn:
        stored = [r["profile_id"] for r in await conn.fetch("SELECT profile_id FROM effects")]
        dead_topic = await conn.fetchval("SELECT topic FROM outbox")
    assert sorted(stored) == sorted(e.profile_id for e in good)  # each exactly once
    assert dead_topic == f"{dead_letter_topic(PROFILE_EVENTS)}"
    assert attempts[flaky.profile_id] >= 2


async def _queue(conn: Connection, key: str, *, status: str, age_hours: float) -> uuid.UUID:
    """An outbox row for `key`, created and (if published) published `age_hours` ago."""
    envelope = await Outbox(conn, producer="test").publish(deletion())
    await conn.execute(
        "UPDATE outbox SET message_key = $2, status = $3, "
        "created_at = now() - make_interval(secs => $4), "
        "published_at = CASE WHEN $3 = 'published' THEN now() - make_interval(secs => $4) END "
        "WHERE event_id = $1",
        envelope.event_id,
        key,
        status,
        age_hours * 3600,
    )
    return envelope.event_id


async def _kept(pool: asyncpg.Pool) -> set[uuid.UUID]:
    async with pool.acquire() as conn:
        return {r["event_id"] for r in await conn.fetch("SELECT event_id FROM outbox")}


async def test_published_rows_past_the_retention_are_purged_and_pending_rows_never(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay, "_PURGE_BATCH", 2)  # three old rows: the purge loops
    async with pool.acquire() as conn:
        for _ in range(3):
            await _queue(conn, "k", status="published", age_hours=200)
        recent = await _queue(conn, "k", status="published", age_hours=100)
        stuck = await _queue(conn, "k", status="pending", age_hours=1000)

        assert await purge_published(conn, older_than=timedelta(hours=168)) == 3
        assert await purge_published(conn, older_than=timedelta(hours=168)) == 0

    assert await _kept(pool) == {recent, stuck}


async def test_the_relay_purges_what_it_published_once_the_retention_has_passed(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    relay = OutboxRelay(
        bootstrap_servers=kafka.bootstrap_servers,
        service="test",
        topic_namespace=namespace,
        poll_interval=0.1,
        retention_hours=1 / 3600,  # one second
        purge_interval=0.2,
    )
    async with pool.acquire() as conn:
        await Outbox(conn, producer="test").publish(deletion())
    await relay.start(pool)
    try:
        await read_topic(
            kafka.bootstrap_servers,
            f"{namespace}{PROFILE_EVENTS}",
            until=lambda rs: len(rs) == 1,
        )
        await eventually(lambda: _count(pool, "outbox"), lambda n: n == 0, timeout=10)
    finally:
        await relay.stop()


async def test_the_default_retention_keeps_what_was_just_published(
    pool: asyncpg.Pool, kafka: KafkaHandle, namespace: str
) -> None:
    relay = OutboxRelay(
        bootstrap_servers=kafka.bootstrap_servers,
        service="test",
        topic_namespace=namespace,
        poll_interval=0.1,
        purge_interval=0.1,
    )
    async with pool.acquire() as conn:
        await Outbox(conn, producer="test").publish(deletion())
        expired = await _queue(conn, "k", status="published", age_hours=169)
    await relay.start(pool)
    try:
        await eventually(
            lambda: _kept(pool), lambda kept: expired not in kept and len(kept) == 1, timeout=10
        )
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT status FROM outbox") == "published"
    finally:
        await relay.stop()


async def test_forgetting_a_key_deletes_its_published_rows_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _queue(conn, "erased", status="published", age_hours=0)
        await _queue(conn, "erased", status="published", age_hours=1)
        pending = await _queue(conn, "erased", status="pending", age_hours=0)
        other = await _queue(conn, "someone-else", status="published", age_hours=0)

        assert await forget_published(conn, ["erased", "never-used"]) == 2

    assert await _kept(pool) == {pending, other}


async def test_a_buffered_outbox_writes_its_rows_at_flush_in_order_each_in_its_own_trace(
    pool: asyncpg.Pool,
) -> None:
    events = [deletion() for _ in range(3)]
    traces = [f"00-{n:032x}-{n:016x}-01" for n in range(1, 4)]
    async with pool.acquire() as conn, conn.transaction():
        buffered = BufferedOutbox(conn, producer="test")
        for event, traceparent in zip(events, traces, strict=True):
            with tracing.span_continuing("publish", traceparent):
                await buffered.publish(event)
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0  # nothing before flush
        assert await buffered.flush() == 3
        assert await buffered.flush() == 0  # flushed rows are not written twice
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload, headers FROM outbox ORDER BY id")
    assert [EventEnvelope.from_json(bytes(r["payload"])).payload["profile_id"] for r in rows] == [
        str(e.profile_id) for e in events
    ]
    # Each row continues the trace it was published in, not the one current at the flush.
    assert [r["headers"]["traceparent"].split("-")[1] for r in rows] == [
        t.split("-")[1] for t in traces
    ]


async def _count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return count


# --- liveness and shutdown of a whole service runtime ------------------------------------------


class SlowConsumer:
    """An EventConsumer on profile.events whose handler waits, for the events named in `hold`,
    until `release` is set; every handled event leaves a row in `effects`."""

    def __init__(self, name: str, hold: set[uuid.UUID] | None = None) -> None:
        self.consumer = EventConsumer(name, PROFILE_EVENTS)
        self.hold = hold or set()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls: list[uuid.UUID] = []

        @self.consumer.on(ProfileDeleted)
        async def handle(tx: Tx, envelope: EventEnvelope, event: ProfileDeleted) -> None:
            self.calls.append(envelope.event_id)
            await record_effect(tx, envelope, event)
            if envelope.event_id in self.hold:
                self.entered.set()
                await self.release.wait()


@pytest.fixture
async def runtime_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("runtime")


@pytest.fixture
def effects_migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_effects.sql").write_text(
        "CREATE TABLE effects (event_id uuid, profile_id uuid);\n"
    )
    return directory


def service_runtime(
    runtime_db: str,
    kafka: KafkaHandle,
    namespace: str,
    migrations: Path,
    slow: SlowConsumer,
    **settings: Any,
) -> ServiceRuntime[ServiceSettings, Connection]:
    return ServiceRuntime(
        ServiceSettings(
            service_name="runtime-test",
            database_url=runtime_db,
            http_port=1,
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            kafka_topic_namespace=namespace,
            **{**FAST_KAFKA, **settings},
        ),
        uow=UnitOfWork(lambda conn: conn, producer="runtime-test"),
        migrations_dir=migrations,
        consumers=[slow.consumer],
    )


async def _fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def test_a_consumer_stuck_with_lag_fails_healthz_naming_it_and_recovers_when_it_moves(
    runtime_db: str, kafka: KafkaHandle, namespace: str, effects_migrations: Path
) -> None:
    stuck, behind = (EventEnvelope.wrap(deletion(), producer="test") for _ in range(2))
    slow = SlowConsumer(f"stuck-{namespace}", hold={stuck.event_id})
    # Both wait on one partition before the consumer starts: while the first is held, the
    # second is lag the consumer knows of.
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(
        kafka.bootstrap_servers, topic, [stuck.to_json(), behind.to_json()], key=b"one-partition"
    )
    runtime = service_runtime(
        runtime_db, kafka, namespace, effects_migrations, slow, consumer_stall_seconds=1.5
    )
    app = create_service_app(runtime, title="t", description="t", routers=[])
    async with serve_in_process(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        async with asyncio.timeout(30):
            await slow.entered.wait()

        response = await eventually(
            lambda: client.get("/healthz"), lambda r: r.status_code == 503, timeout=30
        )
        body = response.json()
        assert body["status"] == "stalled"
        [stall] = body["stalled"]
        assert stall["consumer"] == slow.consumer.name
        assert stall["topic"] == topic
        assert stall["lag"] >= 1
        assert stall["seconds_without_progress"] >= 1.5
        # /readyz is about dependencies, and they answer: the stall is the process's own.
        assert (await client.get("/readyz")).status_code == 200

        slow.release.set()
        await eventually(lambda: client.get("/healthz"), lambda r: r.status_code == 200)
        await eventually(lambda: _count_url(runtime_db, "effects"), lambda n: n == 2)


async def _count_url(url: str, table: str) -> int:
    [row] = await _fetch(url, f"SELECT count(*) AS n FROM {table}")
    count: int = row["n"]
    return count


async def test_at_shutdown_a_handler_past_the_grace_period_is_cancelled_uncommitted_and_redelivered(
    runtime_db: str, kafka: KafkaHandle, namespace: str, effects_migrations: Path
) -> None:
    held = EventEnvelope.wrap(deletion(), producer="test")
    name = f"drain-{namespace}"
    first = SlowConsumer(name, hold={held.event_id})
    runtime = service_runtime(
        runtime_db, kafka, namespace, effects_migrations, first, shutdown_grace_seconds=0.5
    )
    await produce(
        kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", [held.to_json()], key=b"k"
    )
    await runtime.start()
    try:
        async with asyncio.timeout(30):
            await first.entered.wait()
    finally:
        async with asyncio.timeout(30):
            await runtime.stop()  # what SIGTERM runs

    # The handler was in its transaction when it was cancelled: nothing of it remains.
    assert first.calls == [held.event_id]
    assert await _fetch(runtime_db, "SELECT * FROM processed_events") == []
    assert await _fetch(runtime_db, "SELECT * FROM effects") == []

    # Its offset was not committed either: the next instance gets the event and handles it.
    second = SlowConsumer(name)
    runtime = service_runtime(runtime_db, kafka, namespace, effects_migrations, second)
    await runtime.start()
    try:
        await eventually(lambda: _count_url(runtime_db, "effects"), lambda n: n == 1, timeout=30)
    finally:
        await runtime.stop()
    assert second.calls == [held.event_id]
    [row] = await _fetch(runtime_db, "SELECT event_id, outcome FROM processed_events")
    assert (row["event_id"], row["outcome"]) == (held.event_id, "handled")


async def test_at_shutdown_a_handler_that_finishes_within_the_grace_period_commits_its_offset(
    runtime_db: str, kafka: KafkaHandle, namespace: str, effects_migrations: Path
) -> None:
    held = EventEnvelope.wrap(deletion(), producer="test")
    name = f"grace-{namespace}"
    first = SlowConsumer(name, hold={held.event_id})
    runtime = service_runtime(
        runtime_db, kafka, namespace, effects_migrations, first, shutdown_grace_seconds=20
    )
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(kafka.bootstrap_servers, topic, [held.to_json()], key=b"k")
    await runtime.start()
    try:
        async with asyncio.timeout(30):
            await first.entered.wait()
        stopping = asyncio.create_task(runtime.stop())
        # The stop waits for the handler; the handler finishes once the stop has begun.
        await asyncio.sleep(0.5)
        assert not stopping.done()
        first.release.set()
        async with asyncio.timeout(30):
            await stopping
    finally:
        first.release.set()
        await runtime.stop()  # a no-op when the stop above completed
    [row] = await _fetch(runtime_db, "SELECT event_id, outcome FROM processed_events")
    assert (row["event_id"], row["outcome"]) == (held.event_id, "handled")

    # Committed: the next instance of the group starts after it (the marker comes, it does not).
    second = SlowConsumer(name)
    marker = EventEnvelope.wrap(deletion(), producer="test")
    await produce(kafka.bootstrap_servers, topic, [marker.to_json()], key=b"k")
    runtime = service_runtime(runtime_db, kafka, namespace, effects_migrations, second)
    await runtime.start()
    try:
        await eventually(lambda: _count_url(runtime_db, "effects"), lambda n: n == 2, timeout=30)
    finally:
        await runtime.stop()
    assert second.calls == [marker.event_id]


class _LosingBroker:
    """A producer whose broker forgets its logs on demand: offsets start again at 0."""

    def __init__(self) -> None:
        self.next_offset = 0
        self.sent = 0

    async def send(self, **_: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(SimpleNamespace(partition=0, offset=self.next_offset))
        self.next_offset += 1
        self.sent += 1
        return future

    async def stop(self) -> None:
        pass


async def test_when_the_broker_loses_its_logs_the_relay_publishes_the_retained_events_again(
    pool: asyncpg.Pool,
) -> None:
    relay = OutboxRelay(bootstrap_servers="unused:9092", service="test", poll_interval=0.1)
    broker = _LosingBroker()
    relay._producer = broker  # type: ignore[assignment]
    relay._pool = pool
    try:
        async with pool.acquire() as conn:
            for _ in range(3):
                await Outbox(conn, producer="test").publish(deletion())
        assert await relay.publish_batch() == 3

        broker.next_offset = 0  # the broker restarted empty
        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        assert await relay.publish_batch() == 1

        # The three events the broker lost are pending again; the one it has is not.
        statuses = await pool.fetch("SELECT status FROM outbox ORDER BY id")
        assert [row["status"] for row in statuses] == ["pending", "pending", "pending", "published"]
        assert await relay.publish_batch() == 3
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
        # Offsets that only grow never trigger it.
        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        assert await relay.publish_batch() == 1
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    finally:
        await relay.stop()


async def test_once_the_broker_has_settled_after_a_loss_the_relay_publishes_everything_again(
    pool: asyncpg.Pool,
) -> None:
    relay = OutboxRelay(
        bootstrap_servers="unused:9092", service="test", poll_interval=0.1, settle_seconds=0.2
    )
    broker = _LosingBroker()
    relay._producer = broker  # type: ignore[assignment]
    relay._pool = pool
    try:
        async with pool.acquire() as conn:
            for _ in range(3):
                await Outbox(conn, producer="test").publish(deletion())
        assert await relay.run_once() is False
        broker.next_offset = 0  # the broker restarted empty
        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        await relay.run_once()  # the loss is seen: the three lost events are pending again
        await relay.run_once()  # ... and published
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
        sent_before = broker.sent

        await relay.run_once()  # not settled yet: nothing more
        assert broker.sent == sent_before
        await asyncio.sleep(0.3)
        await relay.run_once()  # settled: all four go out once more, and only once
        assert broker.sent == sent_before + 4
        await asyncio.sleep(0.3)
        await relay.run_once()
        assert broker.sent == sent_before + 4
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    finally:
        await relay.stop()


async def test_one_relay_of_a_service_publishes_at_a_time_and_another_takes_over_when_it_stops(
    pool: asyncpg.Pool,
) -> None:
    first = OutboxRelay(bootstrap_servers="unused:9092", service="test", poll_interval=0.1)
    second = OutboxRelay(bootstrap_servers="unused:9092", service="test", poll_interval=0.1)
    brokers = _LosingBroker(), _LosingBroker()
    for relay_, broker in zip((first, second), brokers, strict=True):
        relay_._producer = broker  # type: ignore[assignment]
        relay_._pool = pool
    try:
        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        assert await first.publish_batch() == 1  # first come, first leader

        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        assert await second.publish_batch() == 0  # the first holds the relay lock
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 1
        assert await first.publish_batch() == 1

        await first.stop()  # its connection goes back to the pool, and the lock with it
        async with pool.acquire() as conn:
            await Outbox(conn, producer="test").publish(deletion())
        await asyncio.sleep(0.15)  # a relay without the lock asks again every poll interval
        assert await second.publish_batch() == 1
        assert [broker.sent for broker in brokers] == [2, 1]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    finally:
        await first.stop()
        await second.stop()

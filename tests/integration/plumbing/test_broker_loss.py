"""Noticing a lost log against a real broker: the embedded one, restarted, comes back empty and
numbers new records from 0 again, as a broker that lost its data does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from devstack.broker import EmbeddedKafka
from mentorship_shared.plumbing.broker import ensure_topics
from mentorship_shared.plumbing.broker_loss import (
    GONE,
    ReadRecords,
    Verdict,
    fingerprint,
    records_at,
)

TOPIC = "loss.events"
PARTITIONS = [TopicPartition(TOPIC, p) for p in (0, 1)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    """A broker of this test alone: restarting it must not empty the other tests' topics."""
    server = EmbeddedKafka(log_path=tmp_path / "kafka.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def produce(bootstrap: str, era: str, count: int) -> None:
    await ensure_topics(bootstrap, {TOPIC: len(PARTITIONS)})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for tp in PARTITIONS:
            for n in range(count):
                await producer.send_and_wait(
                    TOPIC, f"{era}-{tp.partition}-{n}".encode(), key=b"k", partition=tp.partition
                )
    finally:
        await producer.stop()


@pytest.fixture
async def consumer(broker: EmbeddedKafka) -> AsyncIterator[AIOKafkaConsumer]:
    await produce(broker.bootstrap_servers, "old", 5)
    kafka = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=broker.bootstrap_servers,
        group_id="loss-test",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def read(kafka: AIOKafkaConsumer, records: ReadRecords, count: int) -> list[bytes]:
    """Take `count` records and report each as read; returns their values."""
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(values) < count and time.monotonic() < deadline:
        batch = await kafka.getmany(timeout_ms=500, max_records=count - len(values))
        for messages in batch.values():
            for message in messages:
                records.read(
                    message.topic,
                    message.partition,
                    message.offset,
                    message.key,
                    message.value or b"",
                )
                values.append(message.value or b"")
    return values


async def settled_check(records: ReadRecords, kafka: AIOKafkaConsumer) -> Verdict:
    """Check until the broker answers (right after a restart it may not yet)."""
    deadline = time.monotonic() + 30
    while True:
        verdict = await records.check(kafka)
        if verdict != "unknown" or time.monotonic() > deadline:
            return verdict
        await asyncio.sleep(0.2)


async def test_records_at_reads_the_record_at_each_offset_and_says_when_the_log_ends_before(
    consumer: AIOKafkaConsumer,
) -> None:
    await read(consumer, ReadRecords("t"), 1)  # joined the group: the leader is known
    found = await records_at(consumer, {PARTITIONS[0]: 3, PARTITIONS[1]: 9})
    assert found == {PARTITIONS[0]: fingerprint(b"k", b"old-0-3"), PARTITIONS[1]: GONE}


async def test_a_restart_that_lost_the_log_is_noticed_even_after_a_stale_commit(
    broker: EmbeddedKafka, consumer: AIOKafkaConsumer
) -> None:
    records = ReadRecords("t", check_every=0)
    assert len(await read(consumer, records, 6)) == 6
    assert await records.check(consumer) == "commit"  # the anchors: the last records read
    assert await records.check(consumer) == "commit"  # still where they were read
    positions = {tp: await consumer.position(tp) for tp in PARTITIONS}

    await asyncio.to_thread(broker.restart)
    # The new log grows past the old positions before the consumer fetches again, and the
    # old positions are committed on the new broker (as a commit waiting out the outage does).
    await produce(broker.bootstrap_servers, "new", 8)
    deadline = time.monotonic() + 30
    while True:
        try:
            await consumer.commit(dict(positions))
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    assert {tp: await consumer.committed(tp) for tp in PARTITIONS} == positions

    assert await settled_check(records, consumer) == "lost"
    # Every partition is read again from the start of the new log.
    again = await read(consumer, records, 16)
    assert sorted(again) == sorted(f"new-{p}-{n}".encode() for p in (0, 1) for n in range(8))

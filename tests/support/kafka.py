"""Reading and writing topics directly, to see what the services published."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] | None = None,
    timeout: float = 15.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on `topic` from the beginning, waiting until `until(records)` holds.

    Without `until`, waits `timeout` seconds for records that may still arrive (use that only
    to prove that nothing arrives).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + 10
        while not partitions and time.monotonic() < deadline:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
            await asyncio.sleep(0.1)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
            if until is not None and until(records):
                return records
        if until is not None:
            raise AssertionError(
                f"{topic}: condition not met within {timeout} s; saw {len(records)} records: "
                f"{[r.value[:200] for r in records[:10]]}"
            )
        return records
    finally:
        await consumer.stop()


def events_of(records: list[ConsumerRecord[bytes, bytes]], event_type: str) -> list[dict[str, Any]]:
    """Envelopes (as dicts) of the given type among `records`; skips non-JSON records."""
    found = []
    for record in records:
        try:
            envelope = json.loads(record.value)
        except ValueError:
            continue
        if isinstance(envelope, dict) and envelope.get("event_type") == event_type:
            found.append(envelope)
    return found


async def produce(
    bootstrap_servers: str,
    topic: str,
    values: list[bytes],
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish raw values in order (one key, so one partition and one order)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    deadline = time.monotonic() + 10
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, p) for p in sorted(partitions)]
        if time.monotonic() > deadline:
            raise AssertionError(f"no partitions known for {topic}")
        await consumer.force_metadata_update()
        await asyncio.sleep(0.1)


async def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def committed(bootstrap_servers: str, group: str, topic: str) -> dict[int, int]:
    """The offsets consumer group ``group`` has committed on ``topic`` (-1: none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        found = {}
        for tp in partitions:
            offset = await consumer.committed(tp)
            found[tp.partition] = -1 if offset is None else offset
        return found
    finally:
        await consumer.stop()

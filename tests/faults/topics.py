"""Faults injected through the broker: poison messages and replays (tests.support.kafka reads
the consumer groups' committed offsets, to tell when a replay has been consumed)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from mentorship_shared.contracts.topics import (
    MATCH_EVENTS,
    MENTORSHIP_EVENTS,
    NOTIFICATION_EVENTS,
    PROFILE_EVENTS,
)

from tests.support.kafka import partitions_of

#: A handled event type of each topic (so the consumer parses its payload and checks its
#: version) and who consumes the topic (a service's consumer group is named after it).
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    PROFILE_EVENTS: ("MenteeRegistered", ("matching", "notification", "mentorship")),
    MATCH_EVENTS: ("MatchAccepted", ("notification", "mentorship")),
    MENTORSHIP_EVENTS: ("MentorshipEnded", ("matching", "notification")),
    NOTIFICATION_EVENTS: ("NotificationSent", ()),
}
#: The consumer of each topic in every service that reads it: the name of its inbox rows.
INBOX_NAMES: dict[str, str] = {topic: topic.replace(".", "-") for topic in TOPICS}

POISON_KINDS = ("malformed JSON", "invalid payload", "unknown schema version")
#: Malformed JSON labelled as JSON, as every event of the services is (content-type header).
LABELLED_MALFORMED = "malformed JSON labelled application/json"


@dataclass(frozen=True)
class Poison:
    topic: str
    partition: int
    kind: str
    value: bytes
    #: The services label their events ``content-type: application/json``; poison from a
    #: broken producer may or may not carry the label.
    labelled: bool = False


def _envelope(event_type: str, *, schema_version: int, payload: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "schema_version": schema_version,
            "occurred_at": datetime.now(UTC).isoformat(),
            "producer": "fault-injection",
            "payload": payload,
        }
    ).encode()


def labelled_malformed(topic: str, partitions: int) -> list[Poison]:
    """Malformed JSON with the ``content-type: application/json`` header, on every partition."""
    return [
        Poison(
            topic,
            partition,
            LABELLED_MALFORMED,
            f'{{"event_id": "{uuid.uuid4().hex}", "labelled": '.encode(),
            labelled=True,
        )
        for partition in range(partitions)
    ]


def poison_messages(topic: str, partitions: int) -> list[Poison]:
    """The three kinds of poison on every partition of ``topic``, each message unique (a
    consumer names an unparseable message by its content), without a content-type header."""
    event_type, _ = TOPICS[topic]
    found = []
    for partition in range(partitions):
        marker = uuid.uuid4().hex
        found += [
            Poison(
                topic,
                partition,
                "malformed JSON",
                f'{{"event_id": "{marker}", "event_type": "{event_type}", '.encode(),
            ),
            Poison(
                topic,
                partition,
                "invalid payload",
                _envelope(event_type, schema_version=1, payload={"profile": marker, "id": 7}),
            ),
            Poison(
                topic,
                partition,
                "unknown schema version",
                _envelope(event_type, schema_version=99, payload={"marker": marker}),
            ),
        ]
    return found


async def publish(bootstrap_servers: str, messages: Sequence[Poison]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        sent = [
            await producer.send(
                m.topic,
                m.value,
                key=uuid.uuid4().hex.encode(),
                partition=m.partition,
                headers=[("content-type", b"application/json")] if m.labelled else [],
            )
            for m in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def replay(bootstrap_servers: str, topic: str) -> int:
    """Publish every record of ``topic`` (up to its current end) again, as it is (key, value,
    headers, partition): every event is delivered a second time. Returns how many."""
    # Earliest also as the default reset: assign() starts a reset of its own, and one to the
    # latest offset could land after seek_to_beginning's and win (seen under load).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=False)
    await consumer.start()
    try:
        await producer.start()
        partitions = await partitions_of(consumer, topic)
        ends = await consumer.end_offsets(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, beginnings[tp])
        replayed = 0
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + 60
        while remaining:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: could not read to the end of {remaining}")
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            sent = []
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    sent.append(
                        await producer.send(
                            topic,
                            record.value,
                            key=record.key,
                            partition=tp.partition,
                            headers=list(record.headers),
                        )
                    )
            await asyncio.gather(*sent)
            replayed += len(sent)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        expected = sum(ends[tp] - beginnings[tp] for tp in partitions)
        assert replayed == expected, f"{topic}: replayed {replayed} of {expected} records"
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()

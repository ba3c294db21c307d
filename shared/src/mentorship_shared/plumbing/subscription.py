"""Attaching an `EventConsumer` to its topic: a FastStream subscriber in a consumer group, with
manual offset commits and the records handed over undecoded."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from ..contracts.topics import namespaced
from .consumer import EventConsumer


async def _undecoded(message: KafkaMessage) -> KafkaMessage:
    """Hand the handler the message itself, bodies undecoded. The consumer parses every record
    itself so that what does not parse is dead-lettered; FastStream's own decoder would
    json-decode a record labelled application/json first, and drop it (no dead letter, offset
    passed over) when it is not. Passing the message as the body, rather than asking for it by
    a `KafkaMessage` parameter, also spares a worker-thread hop per batch: FastStream resolves
    such context parameters with a synchronous function, which it runs in a thread."""
    return message


# How long one fetch waits for records when there are none (the broker answers at once when some
# arrive); an empty answer only loops.
_BATCH_WAIT_MS = 500


def subscribe(
    broker: KafkaBroker,
    consumer: EventConsumer,
    *,
    namespace: str,
    group_prefix: str,
    session_timeout_ms: int = 10_000,
    heartbeat_interval_ms: int = 3_000,
    batch_size: int = 1,
    fetch_max_wait_ms: int = 500,
) -> BatchSubscriber:
    """Attach `consumer` to its topic in a consumer group, with manual offset commits; returns
    the FastStream subscriber (its `consumer` is the aiokafka consumer while it runs).

    AckPolicy.MANUAL: FastStream's default would commit before the handler runs (at most once);
    `EventConsumer.consume` commits after the handler's transaction instead. The subscriber
    takes up to `batch_size` records at a time (whatever is already fetched; it never waits to
    fill a batch).
    """

    async def handle(received: Any) -> None:
        await consumer.consume(received)

    handle.__name__ = f"on_{consumer.name.replace('-', '_')}"
    subscriber = broker.subscriber(
        namespaced(consumer.topic, namespace),
        decoder=_undecoded,
        group_id=f"{group_prefix}.{consumer.name}",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=_BATCH_WAIT_MS,
        fetch_max_wait_ms=fetch_max_wait_ms,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        title=f"{group_prefix}.{consumer.name}",
        description=consumer.description
        or f"Handles {', '.join(consumer.event_types)}; other event types are skipped.",
    )
    subscriber(handle)
    return subscriber

"""Attaching a service's `ConsumerGroup` to its topics: one FastStream subscriber in one
consumer group, with manual offset commits and the records handed over undecoded."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from .consumer_group import ConsumerGroup


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
    group: ConsumerGroup,
    *,
    group_id: str,
    session_timeout_ms: int = 10_000,
    heartbeat_interval_ms: int = 3_000,
    batch_size: int = 1,
    fetch_max_wait_ms: int = 500,
) -> BatchSubscriber:
    """Attach `group` to its topics in the consumer group `group_id`, with manual offset
    commits; returns the FastStream subscriber (its `consumer` is the aiokafka consumer while it
    runs).

    AckPolicy.MANUAL: FastStream's default would commit before the handler runs (at most once);
    `ConsumerGroup.consume` commits after the handlers' transactions instead. The subscriber
    takes up to `batch_size` records at a time (whatever is already fetched; it never waits to
    fill a batch).
    """

    async def handle(received: Any) -> None:
        await group.consume(received)

    handle.__name__ = f"on_{group.name.replace('-', '_')}_events"
    subscriber = broker.subscriber(
        *group.topics,
        decoder=_undecoded,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=_BATCH_WAIT_MS,
        fetch_max_wait_ms=fetch_max_wait_ms,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        # The AsyncAPI document names a channel "<title>:<topic>" and describes each one
        # with what its consumer does (`asyncapi_document`).
        title=group_id,
    )
    subscriber(handle)
    return subscriber

"""Kafka set-up: explicit topic creation, the FastStream broker and consumer subscriptions."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from ..contracts.topics import namespaced
from .consumer import EventConsumer

log = logging.getLogger(__name__)

# Error code the broker returns when a topic exists already; creation is then a no-op.
_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(
    bootstrap_servers: str, topics: Mapping[str, int], *, timeout: float = 60.0
) -> None:
    """Create the topics that do not exist yet, each with its partition count.

    Topics are created explicitly rather than on first use: auto-creation would give them the
    broker's default partition count, and some brokers (the embedded one) do not auto-create.
    """
    admin = await _start_admin(bootstrap_servers, timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in topics.items()
            if name not in existing
        ]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for name, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        await admin.close()


async def _start_admin(bootstrap_servers: str, timeout: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            return admin
        except KafkaError as error:
            await admin.close()
            if time.monotonic() + delay > deadline:
                raise RuntimeError(
                    f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f} s "
                    f"({error!r}); is it running and is KAFKA_BOOTSTRAP_SERVERS right?"
                ) from error
            log.info("waiting for Kafka at %s (%s)", bootstrap_servers, type(error).__name__)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)


def create_broker(
    bootstrap_servers: str, *, enable_idempotence: bool, client_id: str
) -> KafkaBroker:
    """A FastStream broker whose per-message logs are at DEBUG (our consumers log outcomes)."""
    return KafkaBroker(
        bootstrap_servers,
        enable_idempotence=enable_idempotence,
        client_id=client_id,
        # Our handlers log through the root logger's format (JSON or text), FastStream too.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


def subscribe(
    broker: KafkaBroker,
    consumer: EventConsumer,
    *,
    namespace: str,
    group_prefix: str,
    session_timeout_ms: int = 10_000,
    heartbeat_interval_ms: int = 3_000,
) -> None:
    """Attach `consumer` to its topic in a consumer group, with manual offset commits.

    AckPolicy.MANUAL: FastStream's default would commit before the handler runs (at most once);
    `EventConsumer.consume` commits after the handler's transaction instead.
    """

    async def handle(message: KafkaMessage) -> None:
        await consumer.consume(message)

    handle.__name__ = f"on_{consumer.name.replace('-', '_')}"
    broker.subscriber(
        namespaced(consumer.topic, namespace),
        group_id=f"{group_prefix}.{consumer.name}",
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        title=f"{group_prefix}.{consumer.name}",
        description=consumer.description
        or f"Handles {', '.join(consumer.event_types)}; other event types are skipped.",
    )(handle)

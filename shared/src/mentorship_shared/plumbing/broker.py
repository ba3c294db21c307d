"""Kafka set-up: explicit topic creation and the FastStream broker."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from .retry import until_available

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
    async def attempt() -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
        except BaseException:
            await admin.close()
            raise
        return admin

    return await until_available(
        attempt,
        what=f"Kafka at {bootstrap_servers}",
        transient=(KafkaError,),
        timeout=timeout,
        hint="is it running and is KAFKA_BOOTSTRAP_SERVERS right?",
    )


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

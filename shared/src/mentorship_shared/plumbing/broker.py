"""Kafka set-up: explicit topic creation, the FastStream broker, consumer subscriptions, and the
AsyncAPI document of what a service consumes and publishes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.specification import AsyncAPI
from pydantic import Field, TypeAdapter, create_model

from ..contracts.envelope import EventEnvelope, EventPayload
from ..contracts.events import EVENT_TYPES
from ..contracts.topics import dead_letter_topic, namespaced
from .consumer import EventConsumer
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


# --- the AsyncAPI document ----------------------------------------------------------------------
#
# The relay publishes with its own producer, so FastStream knows nothing of what a service
# publishes: `document_publications` declares publishers that only describe it (they never send).
# The subscribers take the raw message (the consumer parses it, to dead-letter what does not
# parse), so FastStream cannot see their payloads either: `asyncapi_document` fills them in.


def document_publications(
    broker: KafkaBroker,
    *,
    service: str,
    topics: Sequence[str],
    consumed_topics: Sequence[str],
    namespace: str = "",
) -> None:
    """Declare, for the AsyncAPI document only, the topics `service` publishes events to (with
    their event types from the contracts) and the dead-letter topics of the topics it consumes."""
    for topic in topics:
        models = [model for model in EVENT_TYPES.values() if model.topic == topic]
        if not models:
            raise ValueError(f"no event type of the contracts is published to {topic}")
        broker.publisher(
            namespaced(topic, namespace),
            title=f"{service}.publishes.{topic}",
            description=(
                f"Events {service} publishes through its transactional outbox: "
                f"{', '.join(model.event_type for model in models)}. The key is the id of the "
                "aggregate the event is about; headers: event_type, event_id, content-type."
            ),
            schema=envelope_schema(models),
        )
    for topic in dict.fromkeys(consumed_topics):
        dead_letters = dead_letter_topic(topic)
        broker.publisher(
            namespaced(dead_letters, namespace),
            title=f"{service}.publishes.{dead_letters}",
            description=(
                f"Messages from {topic} that {service} can never process (malformed, a newer "
                "schema version, or failing after every attempt), exactly as they arrived, with "
                "their original headers and dlq-reason, dlq-error, dlq-consumer, "
                "dlq-original-topic, dlq-original-partition and dlq-original-offset."
            ),
            schema=bytes,
        )


def envelope_schema(models: Sequence[type[EventPayload]]) -> Any:
    """The type of a message carrying one of `models`: an `EventEnvelope` whose `event_type`
    names the model and whose `payload` is it, told apart by `event_type`."""
    envelopes = tuple(_typed_envelope(model) for model in models)
    if len(envelopes) == 1:
        return envelopes[0]
    return Annotated[Union[envelopes], Field(discriminator="event_type")]  # noqa: UP007


def _typed_envelope(model: type[EventPayload]) -> type[EventEnvelope]:
    event_type: Any = Literal[model.event_type]
    typed: type[EventEnvelope] = create_model(
        f"{model.event_type}Envelope",
        __base__=EventEnvelope,
        __doc__=f"The envelope of {model.event_type}: {model.__doc__ or ''}".strip(),
        event_type=(event_type, Field(description="Past-tense name of the fact.")),
        payload=(model, Field(description=f"The fact itself: the {model.event_type} payload.")),
    )
    return typed


def asyncapi_document(
    broker: KafkaBroker,
    consumers: Sequence[tuple[EventConsumer, BatchSubscriber]],
    *,
    title: str,
    version: str,
    description: str,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `broker` (nothing is started or connected), with the
    payloads each consumer reads: the envelopes of the event types it handles."""
    spec = AsyncAPI(
        broker, title=title, version=version, description=description, schema_version="3.0.0"
    ).to_specification()
    document: dict[str, Any] = spec.to_jsonable()
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for consumer, subscriber in consumers:
        models = [EVENT_TYPES[event_type] for event_type in consumer.event_types]
        payload = TypeAdapter(envelope_schema(models)).json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, schema in payload.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        if isinstance(payload.get("discriminator"), dict):
            # AsyncAPI's Schema Object names the property only (OpenAPI's has a mapping too).
            payload["discriminator"] = payload["discriminator"]["propertyName"]
        name = f"{subscriber.specification.name}:Message:Payload"
        payload["title"] = name
        schemas[name] = payload
        for message in _subscriber_messages(document, subscriber):
            message["payload"] = {"$ref": f"#/components/schemas/{name}"}
    # FastStream's placeholder for the payload of a handler without a typed body, now unused.
    if '"#/components/schemas/EmptyPayload"' not in json.dumps(document):
        schemas.pop("EmptyPayload", None)
    return document


def _subscriber_messages(
    document: dict[str, Any], subscriber: BatchSubscriber
) -> list[dict[str, Any]]:
    channel = document["channels"].get(subscriber.specification.name)
    if channel is None:
        raise LookupError(f"no channel {subscriber.specification.name} in the AsyncAPI document")
    found = []
    for reference in channel["messages"].values():
        name = reference["$ref"].removeprefix("#/components/messages/")
        found.append(document["components"]["messages"][name])
    if not found:
        raise LookupError(f"channel {subscriber.specification.name} has no message")
    return found

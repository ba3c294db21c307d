"""The AsyncAPI document of a service: the topics it consumes, with the event payloads each
consumer reads, and the topics it publishes to (dead-letter topics included)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.specification import AsyncAPI
from pydantic import Field, TypeAdapter, create_model

from ..contracts.envelope import EventEnvelope, EventPayload
from ..contracts.events import EVENT_TYPES
from ..contracts.topics import dead_letter_topic, namespaced
from .consumer_group import ConsumerGroup

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
    groups: Sequence[tuple[ConsumerGroup, BatchSubscriber]],
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
    for group, _ in groups:
        for topic, consumer in group.routes:
            models = [EVENT_TYPES[event_type] for event_type in consumer.event_types]
            payload = TypeAdapter(envelope_schema(models)).json_schema(
                ref_template="#/components/schemas/{model}"
            )
            for name, schema in payload.pop("$defs", {}).items():
                schemas.setdefault(name, schema)
            if isinstance(payload.get("discriminator"), dict):
                # AsyncAPI's Schema Object names the property only (OpenAPI's has a mapping).
                payload["discriminator"] = payload["discriminator"]["propertyName"]
            channel_name, channel = _receiving_channel(document, topic)
            name = f"{channel_name}:Message:Payload"
            payload["title"] = name
            schemas[name] = payload
            channel["description"] = consumer.description or (
                f"Handles {', '.join(consumer.event_types)}; other event types are skipped."
            )
            for message in _channel_messages(document, channel, channel_name):
                message["payload"] = {"$ref": f"#/components/schemas/{name}"}
    # FastStream's placeholder for the payload of a handler without a typed body, now unused.
    if '"#/components/schemas/EmptyPayload"' not in json.dumps(document):
        schemas.pop("EmptyPayload", None)
    return document


def _receiving_channel(document: dict[str, Any], topic: str) -> tuple[str, dict[str, Any]]:
    """The channel a receive operation reads `topic` through (a service reads it once)."""
    for operation in document["operations"].values():
        name = operation["channel"]["$ref"].removeprefix("#/channels/")
        channel: dict[str, Any] = document["channels"][name]
        if operation["action"] == "receive" and channel["address"] == topic:
            return name, channel
    raise LookupError(f"no channel receives {topic} in the AsyncAPI document")


def _channel_messages(
    document: dict[str, Any], channel: dict[str, Any], name: str
) -> list[dict[str, Any]]:
    found = []
    for reference in channel["messages"].values():
        message = reference["$ref"].removeprefix("#/components/messages/")
        found.append(document["components"]["messages"][message])
    if not found:
        raise LookupError(f"channel {name} has no message")
    return found

"""Dead letters: messages a consumer can never process, parked on `<topic>.dlq` through the
outbox with the error and the original headers, so that the partition moves on.

An operator replays a dead letter (`devstack dlq replay`) by producing it again with a
`dlq-replayed-from` header; the consumer then takes over the event's inbox row once, so the
replayed record is processed (or dead-lettered) once more.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from ..contracts.topics import dead_letter_topic
from .inbox import Delivery
from .outbox import Outbox

# uuid5 namespace for messages that carry no usable event id (their content hash names them).
_RAW_MESSAGE_NAMESPACE = uuid.UUID("6f1c4d0e-58a4-4f0a-9a53-5b0e3c2d8e11")
#: Header `devstack dlq replay` puts on a replayed dead letter: "<dlq topic>:<partition>:<offset>".
REPLAYED_FROM_HEADER = "dlq-replayed-from"
#: Headers a dead letter carries besides the original ones (a replay removes them again).
DEAD_LETTER_HEADERS = (
    "dlq-reason",
    "dlq-error",
    "dlq-consumer",
    "dlq-original-topic",
    "dlq-original-partition",
    "dlq-original-offset",
)


class PoisonMessage(Exception):
    """The message can never be processed as it is; it goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def is_replay(delivery: Delivery) -> bool:
    """Whether an operator replayed this record from a dead-letter topic."""
    return REPLAYED_FROM_HEADER in delivery.headers


async def park(
    outbox: Outbox,
    delivery: Delivery,
    poison: PoisonMessage,
    *,
    topic: str,
    consumer: str,
    event_type: str,
) -> None:
    """Queue the original record for `topic`'s dead-letter topic, in the caller's transaction,
    with the reason and where it came from in its headers."""
    headers = dict(delivery.headers)
    headers.update(
        {
            "dlq-reason": poison.reason,
            "dlq-error": poison.detail[:2000],
            "dlq-consumer": consumer,
            "dlq-original-topic": delivery.topic,
            "dlq-original-partition": str(delivery.partition),
            "dlq-original-offset": str(delivery.offset),
        }
    )
    await outbox.add_raw(
        event_id=uuid.uuid4(),
        topic=dead_letter_topic(topic),
        key=delivery.key.decode(errors="replace") if delivery.key is not None else None,
        event_type=event_type,
        value=delivery.value,
        headers=headers,
    )


def content_id(delivery: Delivery) -> uuid.UUID:
    """The id a dead letter is recorded under in the inbox: the event id when the message has
    a usable one, otherwise a name derived from the topic and the content."""
    event_id = _event_id_from(delivery.value)
    if event_id is not None:
        return event_id
    digest = hashlib.sha256(delivery.value).hexdigest()
    return uuid.uuid5(_RAW_MESSAGE_NAMESPACE, f"{delivery.topic}:{digest}")


def _event_id_from(value: bytes) -> uuid.UUID | None:
    """The event id of a message whose envelope is broken elsewhere, if it has a valid one."""
    try:
        data = json.loads(value)
        return uuid.UUID(str(data["event_id"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None

"""The one envelope every event travels in.

On the wire an event is the JSON of `EventEnvelope`; the Kafka key is the id of the aggregate
the event is about. Consumers parse the envelope first, then the payload model they know for
its `event_type`, ignoring fields they do not know (changes to events are additive).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventPayload(BaseModel):
    """Base class of every event's payload: the fact itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    #: Name of the event on the wire (past tense).
    event_type: ClassVar[str]
    #: Payload schema version this code writes and the highest it reads.
    schema_version: ClassVar[int] = 1
    #: Topic the event is published to (before namespacing).
    topic: ClassVar[str]

    def aggregate_id(self) -> str:
        """Kafka key: the id of the aggregate, so one aggregate's events stay in order."""
        raise NotImplementedError


class EventEnvelope(BaseModel):
    """Metadata every event carries, around its payload."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(description="Unique id of this event; consumers deduplicate on it.")
    event_type: str = Field(
        min_length=1, description="Past-tense name of the fact, such as 'MenteeRegistered'."
    )
    schema_version: int = Field(ge=1, description="Version of the payload schema.")
    occurred_at: AwareDatetime = Field(description="When the fact happened (UTC).")
    producer: str = Field(min_length=1, description="Name of the service that produced the event.")
    payload: dict[str, Any] = Field(description="The event's own fields; see the payload schemas.")

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        producer: str,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Self:
        return cls(
            event_id=event_id or uuid.uuid4(),
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            payload=payload.model_dump(mode="json"),
        )

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)

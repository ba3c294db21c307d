"""Transactional outbox, the writing side: the only way a service publishes.

`Outbox` writes events into the `outbox` table on the caller's connection, inside the caller's
transaction, so the state change and its event commit together or not at all; the relay
(`relay.py`) publishes them. Published rows carry whole payloads (a registration holds a name
and an address): an erasure deletes the published rows about the erased aggregate at once
(`forget_published`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..contracts.envelope import EventEnvelope, EventPayload
from . import tracing
from .database import Connection

log = logging.getLogger(__name__)

#: An outbox row's columns in `_INSERT_ROW`'s order: event id, topic, key, event type, value,
#: headers.
OutboxRow = tuple[uuid.UUID, str, str | None, str, bytes, dict[str, str]]

_INSERT_ROW = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, payload, headers) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


class EventSink(Protocol):
    """Where use cases put the events they raise (the outbox in production, a list in tests)."""

    async def publish(self, payload: EventPayload) -> EventEnvelope: ...


class Outbox:
    """Writes events into the outbox on one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection, *, producer: str) -> None:
        self._conn = conn
        self._producer = producer

    async def publish(self, payload: EventPayload) -> EventEnvelope:
        envelope = EventEnvelope.wrap(payload, producer=self._producer)
        await self.add_raw(
            event_id=envelope.event_id,
            topic=payload.topic,
            key=payload.aggregate_id(),
            event_type=envelope.event_type,
            value=envelope.to_json(),
            # The trace context of the request or event that raised this one: the relay's
            # producer span continues that trace, however much later it runs.
            headers=tracing.inject(
                {
                    "content-type": "application/json",
                    "event_type": envelope.event_type,
                    "event_id": str(envelope.event_id),
                }
            ),
        )
        return envelope

    async def add_raw(
        self,
        *,
        event_id: uuid.UUID,
        topic: str,
        key: str | None,
        event_type: str,
        value: bytes,
        headers: Mapping[str, str],
    ) -> None:
        """Queue exact bytes for `topic` (not namespaced); used for events and dead letters."""
        await self._write((event_id, topic, key, event_type, value, dict(headers)))

    async def _write(self, row: OutboxRow) -> None:
        await self._conn.execute(_INSERT_ROW, *row)


class BufferedOutbox(Outbox):
    """An `Outbox` that keeps the rows until `flush`, then writes them in one round trip.

    For work that raises events one at a time in a loop, within one transaction (a batch of
    mails): each row still carries the trace context of the moment it was published, and rows
    keep their publishing order. `flush` must run before the transaction commits; the rows are
    not in the table before it."""

    def __init__(self, conn: Connection, *, producer: str) -> None:
        super().__init__(conn, producer=producer)
        self._rows: list[OutboxRow] = []

    async def _write(self, row: OutboxRow) -> None:
        self._rows.append(row)

    async def flush(self) -> int:
        """Write the buffered rows; returns how many."""
        rows, self._rows = self._rows, []
        if rows:
            await self._conn.executemany(_INSERT_ROW, rows)
        return len(rows)


async def forget_published(conn: Connection, keys: Sequence[str]) -> int:
    """Delete the published rows keyed by any of `keys` (an erased profile's events and dead
    letters), in the caller's transaction. Pending rows stay: they still have to reach their
    consumers, and the retention purge takes them once published. Returns how many went."""
    status: str = await conn.execute(
        "DELETE FROM outbox WHERE status = 'published' AND message_key = ANY($1::text[])",
        list(keys),
    )
    return int(status.split()[-1])


__all__: Sequence[str] = (
    "BufferedOutbox",
    "EventSink",
    "Outbox",
    "forget_published",
)

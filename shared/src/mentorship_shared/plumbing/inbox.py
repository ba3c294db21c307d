"""The processed-events inbox: which events a consumer has already handled.

A consumer records an event's id in `processed_events` in the same transaction as the handler's
effect; a redelivered event finds its id there and changes nothing. A record of the broker is
described by a `Delivery`, independent of the client library.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ..contracts.envelope import EventEnvelope
from .database import Connection


@dataclass(frozen=True)
class Delivery:
    """What the consumer needs from one Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]


async def record_processed(
    conn: Connection,
    consumer: str,
    event_id: uuid.UUID,
    event_type: str,
    delivery: Delivery,
    outcome: str,
    *,
    replay: bool = False,
) -> bool:
    """Record the event id for `consumer`; False if it was there already (a duplicate).

    A replayed dead letter takes over its event's 'dead_lettered' row, once per replayed
    record: the row then names the replayed record, so a redelivery of that record is a
    duplicate again. A 'handled' row is never taken over."""
    inserted = await conn.fetchval(
        "INSERT INTO processed_events AS p (consumer, event_id, event_type, outcome, "
        "source_topic, source_partition, source_offset) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (consumer, event_id) DO UPDATE SET event_type = EXCLUDED.event_type, "
        "outcome = EXCLUDED.outcome, source_topic = EXCLUDED.source_topic, "
        "source_partition = EXCLUDED.source_partition, source_offset = EXCLUDED.source_offset, "
        "processed_at = now() "
        "WHERE $8 AND p.outcome = 'dead_lettered' "
        "AND (p.source_topic, p.source_partition, p.source_offset) IS DISTINCT FROM "
        "(EXCLUDED.source_topic, EXCLUDED.source_partition, EXCLUDED.source_offset) "
        "RETURNING true",
        consumer,
        event_id,
        event_type,
        outcome,
        delivery.topic,
        delivery.partition,
        delivery.offset,
        replay,
    )
    return bool(inserted)


async def record_handled(
    conn: Connection, consumer: str, events: list[tuple[Delivery, EventEnvelope]]
) -> set[uuid.UUID]:
    """`record_processed` for several events at once (outcome 'handled', none of them a
    replay, no id twice): the ids recorded now; the others were processed before."""
    if not events:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events (consumer, event_id, event_type, outcome, source_topic, "
        "source_partition, source_offset) "
        "SELECT $1, e.event_id, e.event_type, 'handled', e.topic, e.partition, e.position "
        "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::integer[], $6::bigint[]) "
        "AS e(event_id, event_type, topic, partition, position) "
        "ON CONFLICT (consumer, event_id) DO NOTHING "
        "RETURNING event_id",
        consumer,
        [envelope.event_id for _, envelope in events],
        [envelope.event_type for _, envelope in events],
        [delivery.topic for delivery, _ in events],
        [delivery.partition for delivery, _ in events],
        [delivery.offset for delivery, _ in events],
    )
    return {row["event_id"] for row in rows}

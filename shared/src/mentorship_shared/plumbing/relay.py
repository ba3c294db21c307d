"""The outbox relay: publishes pending outbox rows to Kafka and marks them published.

One relay of a service publishes at a time: the one holding the service's relay lock, a
session-level advisory lock on the relay's own connection (held until that connection closes:
the process stops or dies, or the connection fails). The others try for it every poll interval.
So batches of several instances never interleave and events of one key leave in commit order.
A batch is one transaction on that kept connection: read the pending rows with `FOR UPDATE SKIP
LOCKED`, publish, mark the acknowledged ones.

Pending rows are selected by status, never by `id > last seen`: ids are taken before commit, so
rows can commit out of id order and an id cursor would skip them. If the process dies between
the publish and the mark, the row is published again: delivery is at least once, and consumers
deduplicate by event id. Published rows are history: the relay deletes them once they are
older than the retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from ..contracts.topics import namespaced
from . import metrics, tracing
from .broker_loss import PublishedOffsets
from .database import Connection
from .worker import PollingWorker

log = logging.getLogger(__name__)

# The relay of a service that holds this session-level lock is the one that publishes: batches
# from several instances then never interleave, so the events of one key leave in commit order.
_RELAY_LOCK = 0x6F7574626F78  # "outbox"
_WAKE_CHANNEL = "outbox_pending"
#: Most rows one purge statement deletes, so a long backlog goes in short transactions.
_PURGE_BATCH = 5_000
#: What a producer span records when the batch broke off before its row's answer came.
_NOT_SENT = RuntimeError("the batch was interrupted before the broker answered")


class OutboxRelay(PollingWorker):
    """Publishes pending outbox rows in batches; woken by NOTIFY, polling as a fallback.

    Only while it holds the service's relay lock (see the module); a relay without it asks for
    it again every `poll_interval`. Every `purge_interval` seconds the leader also deletes the
    rows published more than `retention_hours` ago."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        service: str,
        topic_namespace: str = "",
        enable_idempotence: bool = False,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        linger_seconds: float = 0.0,
        retention_hours: float = 168.0,
        purge_interval: float = 600.0,
        settle_seconds: float = 10.0,
    ) -> None:
        super().__init__(
            name=f"{service}-outbox-relay", channel=_WAKE_CHANNEL, poll_interval=poll_interval
        )
        self._bootstrap_servers = bootstrap_servers
        self._service = service
        self._namespace = topic_namespace
        self._enable_idempotence = enable_idempotence
        self._batch_size = batch_size
        self._linger = linger_seconds
        self._backlog = False  # the last batch was full: more rows are waiting now
        self._producer: AIOKafkaProducer | None = None
        self._retention = timedelta(hours=retention_hours)
        self._purge_interval = purge_interval
        self._next_purge = 0.0  # the first run purges
        # Offsets the broker gave: one going back means it lost the log.
        self._offsets = PublishedOffsets()
        # Topics to publish again once the broker has settled after losing their logs.
        self._sweep_again: set[str] = set()
        self._sweep_again_at = 0.0
        # After the broker lost a topic's logs, how long it must stay quiet (no new loss
        # seen) before every retained event of that topic is published once more.
        self._settle_seconds = settle_seconds
        # The connection on which this relay holds the relay lock (None: it does not).
        self._leading_on: Connection | None = None
        self._next_lock_attempt = 0.0

    async def run_once(self) -> bool:
        conn = await self._leader_connection()
        if conn is None:
            return False
        if self._sweep_again and time.monotonic() >= self._sweep_again_at:
            topics, self._sweep_again = set(self._sweep_again), set()
            await self._publish_again(
                conn, topics, [], why="the broker has settled after losing {topics}"
            )
        if self._linger and not self._backlog:
            # Woken by a commit: let the commits right behind it join the batch.
            await asyncio.sleep(self._linger)
        more = await self.publish_batch() >= self._batch_size
        self._backlog = more
        if time.monotonic() >= self._next_purge:
            purged = await purge_published(conn, older_than=self._retention)
            self._next_purge = time.monotonic() + self._purge_interval
            if purged:
                log.info("deleted %d published outbox rows past the retention", purged)
        return more

    async def _leader_connection(self) -> Connection | None:
        """The relay's own connection if it holds the relay lock there, taking the lock when it
        is free; None while another relay of the service holds it. A relay without the lock asks
        again at most every `poll_interval` (the commits' notifications wake every relay)."""
        conn = await self.held_connection()
        if self._leading_on is conn:
            return conn
        if time.monotonic() < self._next_lock_attempt:
            return None
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
            # A new leader: rows left pending by the last one are read like any others.
            self._leading_on = conn
            return conn
        self._leading_on = None
        self._next_lock_attempt = time.monotonic() + self._poll_interval
        return None

    async def publish_batch(self) -> int:
        """Publish up to one batch of pending rows; return how many were published (0 also
        when another relay of the service holds the relay lock)."""
        conn = await self._leader_connection()
        if conn is None:
            return 0
        producer = await self._ensure_producer()
        # One transaction on the kept connection: the rows are read with FOR UPDATE SKIP
        # LOCKED, so anything else touching them (a purge, an operator's replay) waits or passes
        # them by, and a row is marked only after the broker acknowledged it.
        async with conn.transaction():
            published, error = await self._publish_rows(conn, producer)
        if error is not None:
            raise error
        return published

    async def _publish_rows(
        self, conn: Connection, producer: AIOKafkaProducer
    ) -> tuple[int, BaseException | None]:
        """Publish one batch inside the caller's transaction; return how many went out and the
        first failure, raised by the caller once the marks of the others have committed."""
        rows = await conn.fetch(
            "SELECT id, topic, message_key, event_type, payload, headers FROM outbox "
            "WHERE status = 'pending' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            self._batch_size,
        )
        if not rows:
            metrics.OUTBOX_PENDING.labels(self._service).set(0)
            return 0, None
        # send() only appends to the producer's buffer, in call order; awaiting the
        # returned futures afterwards lets the whole batch go out in few requests.
        spans = [_publish_span(row, self._namespace) for row in rows]
        results: list[Any] = [_NOT_SENT] * len(rows)
        try:
            deliveries = [
                await producer.send(**_record(row, self._namespace, span.headers))
                for row, span in zip(rows, spans, strict=True)
            ]
            results = await asyncio.gather(*deliveries, return_exceptions=True)
        finally:
            for span, result in zip(spans, results, strict=True):
                span.end(result)
        outcomes = list(zip(rows, results, strict=True))
        published = [row["id"] for row, result in outcomes if not isinstance(result, BaseException)]
        failed = [
            (row["id"], repr(result))
            for row, result in outcomes
            if isinstance(result, BaseException)
        ]
        if published:
            lost = self._offsets.lost_topics(
                (row["topic"], result.partition, result.offset)
                for row, result in outcomes
                if not isinstance(result, BaseException)
            )
            # Marked and, after a loss, set back to pending in the one transaction: a crash in
            # between must not leave the lost events marked as published.
            await _mark_published(conn, published)
            if lost:
                await self._publish_again(conn, lost, published)
                # The broker may still be settling: while it creates the lost topics again
                # it can take records and lose them. Once it has been quiet for a while,
                # everything goes out once more.
                self._sweep_again.update(lost)
                self._sweep_again_at = time.monotonic() + self._settle_seconds
        if failed:
            await conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                failed,
            )
        for row, result in outcomes:
            if not isinstance(result, BaseException):
                metrics.EVENTS_PUBLISHED.labels(row["topic"], row["event_type"]).inc()
        error = next((r for _, r in outcomes if isinstance(r, BaseException)), None)
        return len(published), error

    async def _publish_again(
        self,
        conn: Connection,
        topics: set[str],
        just_published: list[int],
        why: str = "the broker's offsets went back on {topics}: it lost those logs",
    ) -> None:
        """The broker lost these topics' logs: every retained event on them goes out again.
        Consumers record what they processed, so events they had already seen change nothing,
        and the ones lost before anyone read them are delivered after all."""
        status = await conn.execute(
            "UPDATE outbox SET status = 'pending', published_at = NULL "
            "WHERE status = 'published' AND topic = ANY($1::text[]) "
            "AND id <> ALL($2::bigint[])",
            sorted(topics),
            just_published,
        )
        log.warning(
            "%s; publishing the %s retained events again",
            why.format(topics=", ".join(sorted(topics))),
            status.split()[-1],
        )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                enable_idempotence=self._enable_idempotence,
                acks="all",
                linger_ms=2,
                client_id=f"{self._service}-outbox-relay",
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def reset(self) -> None:
        # A producer that failed may hold broken connections; the next run builds a new one.
        await self.close()

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()


def _publish_span(row: asyncpg.Record, namespace: str) -> tracing.PublishSpan:
    return tracing.PublishSpan(
        namespaced(row["topic"], namespace), row["headers"], row["message_key"]
    )


def _record(row: asyncpg.Record, namespace: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The Kafka record of an outbox row, with `headers` (the stored ones, carrying the trace
    context of the row's producer span)."""
    return {
        "topic": namespaced(row["topic"], namespace),
        "value": bytes(row["payload"]),
        "key": row["message_key"].encode() if row["message_key"] is not None else None,
        "headers": [(name, value.encode()) for name, value in headers.items()],
    }


async def _mark_published(conn: Connection, ids: list[int]) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'published', published_at = now(), "
        "attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
        ids,
    )


async def pending_count(conn: Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")
    return count


async def purge_published(conn: Connection, *, older_than: timedelta) -> int:
    """Delete rows published longer than `older_than` ago (events and dead letters alike);
    pending rows stay whatever their age. Returns how many rows went."""
    purged = 0
    while True:
        status: str = await conn.execute(
            "DELETE FROM outbox WHERE id = ANY(ARRAY("
            "SELECT id FROM outbox WHERE status = 'published' AND published_at < now() - $1::interval "
            "ORDER BY id LIMIT $2))",
            older_than,
            _PURGE_BATCH,
        )
        deleted = int(status.split()[-1])
        purged += deleted
        if deleted < _PURGE_BATCH:
            return purged

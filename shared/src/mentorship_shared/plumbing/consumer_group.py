"""One Kafka consumer a service: every topic it reads, in one consumer group.

A service reads several topics, each with its own `EventConsumer` (its handlers, its inbox
name, its dead letters). They share one aiokafka consumer: one fetch loop, one heartbeat and
one offset commit a batch for the service, instead of one of each per topic. A consumer polls
the broker every fetch wait even when there is nothing to read, and at load each one paid its
own fetch and its own commit for batches of a record or two.

A batch may hold records of several topics. Each topic's records go to its consumer in the
order they came. The price of sharing: a handler that waits (retrying a failing event, waiting
out a database outage) holds back the service's other topics too.

Offsets are committed for finished records only, as explicit offsets (never the consumer's
position, which runs ahead of the handlers), after the read-records check of `broker_loss`, and
at most every `commit_interval` seconds: under load a batch is a record or two, and a commit
each cost the broker and the service a request. A finished record whose offset is not
committed yet is delivered again after a crash and found in the inbox. A commit waits for the
batch in hand, so it never races a rewind after a lost log.

Shutdown (`stop_accepting`, then `drain`): records taken after it are neither processed nor
committed, the batch in hand gets a grace period to finish its transactions, and is cancelled
otherwise, so its unfinished records are delivered again; then what is finished is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaMessage

from ..contracts.topics import namespaced
from . import metrics
from .broker_loss import ReadRecords
from .consumer import EventConsumer
from .inbox import Delivery
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: How long a commit waits to ask again when the broker could not say whether it lost records.
_RETRY_SECONDS = 1.0


class ConsumerGroup:
    """The event consumers of one service behind one Kafka consumer (one consumer group)."""

    def __init__(
        self, name: str, consumers: Sequence[EventConsumer], *, namespace: str = ""
    ) -> None:
        self.name = name
        self.consumers = list(consumers)
        self._by_topic: dict[str, EventConsumer] = {}
        for consumer in self.consumers:
            topic = namespaced(consumer.topic, namespace)
            if topic in self._by_topic:
                raise ValueError(
                    f"{consumer.name} and {self._by_topic[topic].name} both read {topic}; "
                    "one consumer a topic"
                )
            self._by_topic[topic] = consumer
        self._accepting = True
        self._in_flight: set[asyncio.Task[None]] = set()
        # Per partition of the batch in hand: the offset of its first record not finished yet.
        # The aiokafka position is already past the whole batch; lag counts from here instead.
        self._unfinished: dict[tuple[str, int], int] = {}
        # The records read, checked against the broker's log before each commit.
        self._read = ReadRecords(name)
        # Per partition, the offset after its last finished record, not committed yet.
        self._owed: dict[TopicPartition, int] = {}
        self._commit_interval = 0.0
        self._last_commit = 0.0
        self._kafka_consumer: Any = None
        # Held by a batch while it is processed and by a commit: a commit never runs beside a
        # batch (whose records may be read from a log the commit's check finds lost).
        self._busy = asyncio.Lock()
        self._commit_later: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[str]:
        """The topics read, as the broker names them (namespaced)."""
        return list(self._by_topic)

    @property
    def routes(self) -> list[tuple[str, EventConsumer]]:
        """Each topic read (namespaced) with its consumer."""
        return list(self._by_topic.items())

    def consumer_of(self, topic: str) -> EventConsumer | None:
        """The consumer of `topic` (namespaced), if this group reads it."""
        return self._by_topic.get(topic)

    def bind(
        self,
        uow: UnitOfWork[Any],
        *,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        on_progress: Callable[[], None] | None = None,
        commit_interval_seconds: float = 0.0,
    ) -> None:
        """Bind every consumer to the service's unit of work (once, at start-up); offsets are
        committed at most every `commit_interval_seconds` (0: after every batch)."""
        for consumer in self.consumers:
            consumer.bind(
                uow,
                max_attempts=max_attempts,
                retry_base_seconds=retry_base_seconds,
                on_progress=on_progress,
                on_finished=self._finished,
            )
        self._commit_interval = commit_interval_seconds
        self._accepting = True

    @property
    def in_flight(self) -> int:
        """Batches being processed right now (0 or 1: the subscriber takes one at a time)."""
        return len(self._in_flight)

    async def consume(self, message: KafkaMessage) -> None:
        """FastStream entry point: process the records taken from the broker (a batch of up
        to CONSUMER_BATCH_SIZE, of any of the topics), then commit their offsets once the
        commit interval is over.

        The processing runs in a task of its own so that `drain` can abandon it at shutdown
        without cancelling FastStream's consume loop; cancelled, it never reaches the commit."""
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        if not records:
            return
        if not self._accepting:
            # Shutting down: not processed, not committed; the partition's next owner gets it.
            log.debug(
                "shutting down; %d record(s) left for the next consumer",
                len(records),
                extra={"consumer": self.name},
            )
            return
        by_consumer: dict[EventConsumer, list[Delivery]] = {}
        for record in records:
            consumer = self._by_topic.get(record.topic)
            if consumer is None:  # the subscription is made from `topics`: cannot happen
                raise LookupError(f"{self.name} got a record of {record.topic}, not one of its")
            by_consumer.setdefault(consumer, []).append(
                Delivery(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value or b"",
                    headers={
                        name: value.decode(errors="replace") for name, value in record.headers or ()
                    },
                )
            )
        for deliveries in by_consumer.values():
            for delivery in reversed(deliveries):
                self._unfinished[(delivery.topic, delivery.partition)] = delivery.offset
        first = records[0]
        task = asyncio.create_task(
            self._process_and_commit(message, by_consumer),
            name=f"{self.name}:{first.topic}[{first.partition}]@{first.offset}+{len(records)}",
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                return  # abandoned by `drain`: nothing was committed
            raise
        finally:
            self._unfinished.clear()

    def unfinished_offset(self, topic: str, partition: int) -> int | None:
        """The offset of the first record of the batch in hand that is not finished, if the
        batch has one on this partition."""
        return self._unfinished.get((topic, partition))

    def _finished(self, delivery: Delivery) -> None:
        key = (delivery.topic, delivery.partition)
        if key in self._unfinished:
            self._unfinished[key] = delivery.offset + 1
        self._read.read(
            delivery.topic, delivery.partition, delivery.offset, delivery.key, delivery.value
        )
        self._owed[TopicPartition(delivery.topic, delivery.partition)] = delivery.offset + 1

    async def _process_and_commit(
        self, message: KafkaMessage, by_consumer: dict[EventConsumer, list[Delivery]]
    ) -> None:
        async with self._busy:
            self._kafka_consumer = message.consumer
            for consumer, deliveries in by_consumer.items():
                await consumer.process_all(deliveries)
            if time.monotonic() - self._last_commit >= self._commit_interval:
                await self._commit()
        self._commit_soon()

    def _commit_soon(self) -> None:
        """Commit what is owed once the interval is over, unless a commit is on its way."""
        if self._owed and (self._commit_later is None or self._commit_later.done()):
            self._commit_later = asyncio.create_task(
                self._commit_when_due(), name=f"{self.name}:commit"
            )

    async def _commit_when_due(self) -> None:
        """Commit what is owed once the interval since the last commit is over; while the
        broker cannot say whether it lost records, ask again every second."""
        wait = self._last_commit + self._commit_interval - time.monotonic()
        while self._owed:
            await asyncio.sleep(max(0.0, wait))
            async with self._busy:
                settled = await self._commit()
            wait = self._commit_interval if settled else _RETRY_SECONDS

    async def commit(self) -> None:
        """Commit what is finished and not committed yet (waits for the batch in hand)."""
        async with self._busy:
            await self._commit()

    async def _commit(self) -> bool:
        """Inside `_busy`: the read-records check, then the owed offsets of the partitions
        still assigned. Returns False when something is left for a later commit: the broker
        could not say whether it lost records, or did not take the commit.

        After a loss every assigned partition is read again from its start, and that start
        (offset 0) is what gets committed for each, not only for those with records owed: an
        offset of the lost log may already be on the broker (a commit that waited out the
        outage), and a consumer that rejoins the group would go on from it, past records of
        the new log that nothing would notice any more."""
        kafka_consumer = self._kafka_consumer
        if not self._owed:
            return True
        if kafka_consumer is None:
            return False
        self._last_commit = time.monotonic()
        try:
            verdict = await self._read.check(kafka_consumer)
            if verdict == "unknown":
                return False
            if verdict == "lost":
                metrics.HANDLER_RETRIES.labels(self.name, "offsets_lost").inc()
                self._owed = dict.fromkeys(kafka_consumer.assignment(), 0)
            owed = dict(self._owed)
            offsets = await _committable(kafka_consumer, owed)
            if offsets:
                await kafka_consumer.commit(offsets)
        except KafkaError as error:
            # A rebalance took a partition away (its new owner gets the records again, and the
            # inbox makes that redelivery a no-op), or the broker is going away: what is still
            # assigned is committed at the next try.
            log.warning(
                "offset commit failed; trying again",
                extra={"consumer": self.name, "error": repr(error)},
            )
            return False
        for tp, offset in owed.items():
            if self._owed.get(tp) == offset:
                del self._owed[tp]
        return True

    def read_again(self, kafka_consumer: Any, partition: TopicPartition) -> None:
        """`kafka_consumer` was sent back to the start of `partition` (its log was lost):
        commit that start, for the reason `_commit` gives."""
        self._kafka_consumer = kafka_consumer
        self._owed[partition] = 0
        self._commit_soon()

    def stop_accepting(self) -> None:
        """Shutdown, first step: records taken from now on are neither processed nor committed."""
        self._accepting = False

    async def drain(self, grace_seconds: float) -> int:
        """Shutdown, second step: give the batch in hand up to `grace_seconds` to finish its
        transactions, then cancel it: its open transaction rolls back and its unfinished records
        are delivered again. Then commit what is finished. Returns how many batches were
        cancelled."""
        self.stop_accepting()
        pending = set(self._in_flight)
        if pending and grace_seconds > 0:
            _, pending = await asyncio.wait(pending, timeout=grace_seconds)
        for task in pending:
            log.warning(
                "shutting down: cancelling %s after %.1f s of grace; its unfinished records "
                "will be delivered again",
                task.get_name(),
                grace_seconds,
                extra={"consumer": self.name},
            )
            task.cancel()
        if pending:
            # Let the cancelled handlers roll back and return their connections.
            await asyncio.wait(pending, timeout=5.0)
        if self._commit_later is not None:
            self._commit_later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._commit_later
            self._commit_later = None
        try:
            async with asyncio.timeout(5.0):
                await self.commit()
        except TimeoutError:
            log.warning(
                "shutting down: the last offset commit did not finish in 5 s; the events "
                "since the one before will be delivered again",
                extra={"consumer": self.name},
            )
        return len(pending)


async def _committable(
    kafka_consumer: Any, owed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The owed offsets of the partitions still assigned, none past the consumer's position.
    With no batch in hand the position is where the last batch ended, so the cap changes
    nothing, except after the consumer was sent back to the start of a log the broker lost
    (`restart_truncated_partition`): then the owed offset points into the old log, and
    committing it would skip records of the new one after a restart."""
    assigned = kafka_consumer.assignment()
    offsets = {}
    for tp, offset in owed.items():
        if tp not in assigned:
            continue  # a rebalance took it: its new owner reads the records again
        if offset == 0:
            offsets[tp] = 0  # the start of the log: never past anything
            continue
        try:
            async with asyncio.timeout(1.0):
                position = await kafka_consumer.position(tp)
        except TimeoutError:
            continue  # not known now (being reset): left for the records to come again
        offsets[tp] = min(offset, position)
    return offsets

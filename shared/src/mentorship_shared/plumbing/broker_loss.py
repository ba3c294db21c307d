"""Noticing that the broker lost its data, and what each side does about it.

The embedded broker keeps its logs in memory, so a restart empties every topic, and a production
broker can lose a log too. Records then get offsets the old log had already given to other
records, and a position or committed offset from before the loss would skip them for good.
Three places notice it, each from what it sees; the answer is always to read or publish again,
which the inbox and idempotent handlers make harmless:

- a consumer, before committing: the broker no longer holds the offsets it committed last
  (`CommittedOffsets`); it reads every assigned partition again from the start;
- the lag monitor: a partition's log ends before the consumer's position
  (`restart_truncated_partition`); that partition is read again from the start;
- the outbox relay: the broker gave an offset below one it gave before on the same partition
  (`PublishedOffsets`); every retained event of that topic is published again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, Literal

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]
#: What a consumer may do with the offsets of the batch in hand.
Verdict = Literal["commit", "lost", "unknown"]
#: How often, at most, a consumer asks the broker for its committed offsets before committing.
_OFFSET_CHECK_SECONDS = 1.0


class CommittedOffsets:
    """What one consumer committed last per partition, checked against the broker."""

    def __init__(self, consumer: str, check_every: float = _OFFSET_CHECK_SECONDS) -> None:
        self._consumer = consumer
        self._committed: dict[PartitionKey, int] = {}
        self._checked_at = 0.0
        self._check_every = check_every

    def record(self, topic: str, partition: int, next_offset: int) -> None:
        """The consumer committed `next_offset` on the partition."""
        self._committed[(topic, partition)] = next_offset

    async def check(self, kafka_consumer: Any, partitions: Iterable[PartitionKey]) -> Verdict:
        """Before committing, at most once every `check_every` seconds: does the broker still
        hold the offsets we committed last, on these partitions and on every other assigned
        one we committed on? If not, it lost its data, and its new logs may have grown past
        our old positions: committing now would skip the records numbered below them. Every
        assigned partition is then read again from the start and "lost" is returned: the
        caller does not commit. "unknown" when the broker cannot answer: the caller does not
        commit either, since a commit that waits for the next batch costs nothing (the inbox
        makes a redelivery a no-op) and one made blind might be the one that hides a loss."""
        now = time.monotonic()
        if now - self._checked_at < self._check_every or not hasattr(kafka_consumer, "committed"):
            return "commit"
        assigned = {(tp.topic, tp.partition) for tp in kafka_consumer.assignment()}
        lost = []
        for topic, partition in sorted((set(partitions) | assigned) & set(self._committed)):
            topic_partition = TopicPartition(topic, partition)
            try:
                async with asyncio.timeout(5.0):
                    held = await kafka_consumer.committed(topic_partition)
            except (KafkaError, TimeoutError):
                return "unknown"
            if held is None or held < self._committed[(topic, partition)]:
                lost.append((topic_partition, held))
        # Only an answer counts as a check: a failed one leaves the next commit to ask again.
        self._checked_at = now
        if not lost:
            return "commit"
        log.warning(
            "the broker no longer holds our committed offsets (%s): it lost its data; reading "
            "every assigned partition again from the start",
            ", ".join(
                f"{tp.topic}[{tp.partition}] {held} < {self._committed[(tp.topic, tp.partition)]}"
                for tp, held in lost
            ),
            extra={"consumer": self._consumer},
        )
        self._committed.clear()
        everything = list(kafka_consumer.assignment())
        if everything:
            await kafka_consumer.seek_to_beginning(*everything)
        return "lost"


async def restart_truncated_partition(
    kafka_consumer: Any, partition: Any, position: int, highwater: int
) -> None:
    """The partition's log now ends before our position: the broker lost or recreated it.
    Records the new log gives offsets below our old position would be skipped for good; read
    it from the start instead."""
    log.warning(
        "%s[%d] ends at %d, before our position %d: the broker lost the log; reading it again "
        "from the start",
        partition.topic,
        partition.partition,
        highwater,
        position,
    )
    await kafka_consumer.seek_to_beginning(partition)


class PublishedOffsets:
    """The highest offset the broker gave each partition a relay published to. Offsets never
    go back unless the broker lost the log."""

    def __init__(self) -> None:
        self._last: dict[PartitionKey, int] = {}

    def lost_topics(self, published: Iterable[tuple[str, int, int]]) -> set[str]:
        """Topics on which one of `published` (topic, partition, offset) is below an offset
        the broker gave before; their counts start afresh on the new log."""
        lost: set[str] = set()
        for topic, partition, offset in published:
            key = (topic, partition)
            if offset < self._last.get(key, -1):
                lost.add(topic)
            self._last[key] = offset
        for topic in lost:
            for key in [k for k in self._last if k[0] == topic]:
                del self._last[key]
        return lost

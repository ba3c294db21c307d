"""Noticing that the broker lost its data, and what each side does about it.

The embedded broker keeps its logs in memory, so a restart empties every topic, and a production
broker can lose a log too. Records then get offsets the old log had already given to other
records, and a position or committed offset from before the loss would skip them for good.
Three places notice it, each from what it sees; the answer is always to read or publish again,
which the inbox and idempotent handlers make harmless:

- a consumer, before committing: a record it read is no longer at the offset it read it from
  (`ReadRecords`); it reads every assigned partition again from the start;
- the lag monitor: a partition's log ends before the consumer's position
  (`restart_truncated_partition`); that partition is read again from the start;
- the outbox relay: the broker gave an offset below one it gave before on the same partition
  (`PublishedOffsets`); every retained event of that topic is published again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

from aiokafka import TopicPartition, errors
from aiokafka.errors import KafkaError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]
#: What a consumer may do with the offsets of the batch in hand.
Verdict = Literal["commit", "lost", "unknown"]
#: How often, at most, a consumer checks the records it read before committing.
_CHECK_SECONDS = 1.0


class ReadRecords:
    """Records one consumer read, checked against the broker's log before it commits.

    After a loss the broker numbers new records from 0 again, so a position taken from the old
    log points into a different log; committed offsets cannot tell, since a commit that was
    waiting out the outage lands on the new broker with the old positions. The records can: a
    record read at offset n is still at offset n unless the log was lost. So every check fetches
    the records the previous check saw as the last ones read ("anchors") and compares them;
    then the last ones read since become the anchors of the next check. A loss between two
    checks therefore always meets an anchor read before it."""

    def __init__(
        self,
        consumer: str,
        check_every: float = _CHECK_SECONDS,
        read_at: RecordReader | None = None,
    ) -> None:
        self._consumer = consumer
        self._check_every = check_every
        self._read_at = read_at or records_at
        # Per partition, the last record finished: (offset, key, value). Fingerprinted only when
        # it becomes an anchor, at most once a check, not once a record.
        self._latest: dict[PartitionKey, tuple[int, bytes | None, bytes]] = {}
        self._anchors: dict[TopicPartition, tuple[int, int]] = {}
        self._checked_at = 0.0

    def read(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes
    ) -> None:
        """The consumer finished the record at `offset` of the partition."""
        self._latest[(topic, partition)] = (offset, key, value)

    async def check(self, kafka_consumer: Any) -> Verdict:
        """Before committing, at most once every `check_every` seconds: are the anchors still
        where they were read, on every partition still assigned? If one is not, the broker lost
        its data: every assigned partition is read again from the start and "lost" is returned,
        so the caller does not commit. "unknown" when the broker cannot answer: the caller does
        not commit either; a commit that waits for the next batch costs nothing (the inbox makes
        a redelivery a no-op), one made blind might be the one that hides a loss."""
        now = time.monotonic()
        if now - self._checked_at < self._check_every:
            return "commit"
        assigned = set(kafka_consumer.assignment())
        anchors = {tp: seen for tp, seen in self._anchors.items() if tp in assigned}
        if anchors:
            try:
                async with asyncio.timeout(5.0):
                    found = await self._read_at(
                        kafka_consumer, {tp: offset for tp, (offset, _) in anchors.items()}
                    )
            except (KafkaError, TimeoutError) as error:
                log.debug("read records not checked: %r", error, extra={"consumer": self._consumer})
                return "unknown"
            lost = [
                (tp, offset, found.get(tp, GONE))
                for tp, (offset, expected) in sorted(anchors.items())
                if found.get(tp, GONE) not in (expected, EXPIRED)
            ]
        else:
            lost = []
        # Only an answer counts as a check: a failed one leaves the next commit to ask again.
        self._checked_at = now
        if not lost:
            self._anchors = {
                tp: (offset, fingerprint(key, value))
                for (topic, partition), (offset, key, value) in self._latest.items()
                if (tp := TopicPartition(topic, partition)) in assigned
            }
            return "commit"
        log.warning(
            "records we read are no longer where we read them (%s): the broker lost its data; "
            "reading every assigned partition again from the start",
            ", ".join(
                f"{tp.topic}[{tp.partition}]@{offset} "
                + ("gone" if now_there == GONE else "replaced")
                for tp, offset, now_there in lost
            ),
            extra={"consumer": self._consumer},
        )
        self._anchors.clear()
        self._latest.clear()
        if assigned:
            await kafka_consumer.seek_to_beginning(*assigned)
        return "lost"


def fingerprint(key: bytes | None, value: bytes) -> int:
    """What identifies a record at its offset (a lost log may hold another one there)."""
    return zlib.crc32(value, zlib.crc32(key or b"\x00"))


#: What `records_at` finds where a record was: its fingerprint, or one of these.
GONE = -1  # the log ends before the offset: the broker lost it
EXPIRED = -2  # the log starts after the offset: retention removed it, nothing was lost
RecordReader = Callable[[Any, Mapping[TopicPartition, int]], Awaitable[dict[TopicPartition, int]]]
#: Bytes fetched per partition: the record asked for is the first of its batch or near it.
_FETCH_BYTES = 64 * 1024


async def records_at(
    kafka_consumer: Any, wanted: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The fingerprint of the record at each offset in `wanted` (or GONE, or EXPIRED), read
    with one fetch request per leader through the consumer's own client. The consumer's
    position and buffered records are left alone."""
    client = kafka_consumer._client
    by_leader: dict[int, dict[str, list[tuple[int, int, int]]]] = {}
    for tp, offset in wanted.items():
        leader = client.cluster.leader_for_partition(tp)
        if leader is None or leader < 0:
            raise KafkaError(f"no leader known for {tp.topic}[{tp.partition}]")
        by_leader.setdefault(leader, {}).setdefault(tp.topic, []).append(
            (tp.partition, offset, _FETCH_BYTES)
        )
    found: dict[TopicPartition, int] = {}
    for leader, topics in by_leader.items():
        # A short wait, not none: the embedded broker answers a fetch that may not wait with
        # no partitions at all.
        request = FetchRequest(10, 0, _FETCH_BYTES * len(wanted), 0, list(topics.items()))
        response = await client.send(leader, request)
        for topic, partitions in response.topics:
            for partition, error_code, highwater, *data in partitions:
                tp = TopicPartition(topic, partition)
                if tp in wanted:
                    found[tp] = _record_in(wanted[tp], errors.for_code(error_code), highwater, data)
    if missing := set(wanted) - set(found):
        raise KafkaError(f"the broker did not answer for {sorted(missing)}")
    return found


def _record_in(offset: int, error: type[Exception], highwater: int, data: list[Any]) -> int:
    if error is errors.OffsetOutOfRangeError:
        return EXPIRED if offset < highwater else GONE
    if error is not errors.NoError:
        raise error(f"fetching the record at offset {offset}")
    records = MemoryRecords(data[-1])
    while records.has_next():
        batch = records.next_batch()
        if batch is None:
            break
        for record in batch:
            if record.offset == offset:
                return fingerprint(record.key, record.value or b"")
            if record.offset > offset:
                return EXPIRED  # removed by compaction or retention, not lost
    return GONE if highwater <= offset else EXPIRED


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

"""`ConsumerGroup`: one Kafka consumer for all of a service's topics. A batch of records from
several topics reaches each topic's consumer in order; the offsets of finished records are
committed explicitly, at most every commit interval, never beside a batch in hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.consumer_group import ConsumerGroup
from mentorship_shared.plumbing.inbox import Delivery

NAMESPACE = "t1."
PROFILES = f"{NAMESPACE}{PROFILE_EVENTS}"
MATCHES = f"{NAMESPACE}{MATCH_EVENTS}"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class FakeKafkaConsumer:
    """What a commit uses of the aiokafka consumer: its assignment, positions and
    `commit(offsets)`."""

    assigned: set[TopicPartition]
    log: list[str]
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    #: Positions set by a test; the others are far ahead (where the last batch ended).
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    #: How many commits to refuse before taking one.
    refuse: int = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp, 10**9)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse:
            self.refuse -= 1
            raise CommitFailedError("a rebalance is in progress")
        self.commits.append(dict(offsets))
        self.log.append("commit")
        self.committed.set()


@dataclass
class FakeMessage:
    """A FastStream batch message: the records and the consumer they came from."""

    raw_message: tuple[Record, ...]
    consumer: FakeKafkaConsumer


class Recorded:
    """Two consumers whose `process_all` notes what it got and finishes each record, in one
    group; `unfinished_during` keeps the group's unfinished offset of profiles[0] as each
    consumer starts, and `during` runs inside every `process_all`."""

    def __init__(self, commit_interval: float = 0.0) -> None:
        self.log: list[str] = []
        self.profiles = EventConsumer("profile-events", PROFILE_EVENTS)
        self.matches = EventConsumer("match-events", MATCH_EVENTS)
        self.group = ConsumerGroup("svc", [self.profiles, self.matches], namespace=NAMESPACE)
        self.group.bind(
            uow=_NoUnitOfWork(),  # type: ignore[arg-type]
            commit_interval_seconds=commit_interval,
        )
        self.kafka = FakeKafkaConsumer(
            {TopicPartition(PROFILES, 0), TopicPartition(MATCHES, 1)}, self.log
        )
        self.unfinished_during: list[int | None] = []
        self.pause_in_batch = False
        for consumer in (self.profiles, self.matches):
            self._record(consumer)

    def _record(self, consumer: EventConsumer) -> None:
        async def process_all(deliveries: list[Delivery]) -> None:
            self.unfinished_during.append(self.group.unfinished_offset(PROFILES, 0))
            for delivery in deliveries:
                self.log.append(f"{consumer.name}@{delivery.offset}")
                consumer._finish("handled", delivery, "Test")
                if self.pause_in_batch:
                    # Let anything else that waits run now, between two records of the batch.
                    for _ in range(5):
                        await asyncio.sleep(0)

        consumer.process_all = process_all  # type: ignore[method-assign]

    async def consume(self, *records: Record) -> None:
        await self.group.consume(FakeMessage(records, self.kafka))  # type: ignore[arg-type]


class _NoUnitOfWork:
    producer = "svc"


async def test_a_mixed_batch_goes_to_each_topics_consumer_in_order_and_commits_once() -> None:
    recorded = Recorded()

    await recorded.consume(Record(PROFILES, 0, 4), Record(MATCHES, 1, 9), Record(PROFILES, 0, 5))

    assert recorded.log == ["profile-events@4", "profile-events@5", "match-events@9", "commit"]
    # The offsets after the last finished record of each partition, nothing else.
    assert recorded.kafka.commits == [
        {TopicPartition(PROFILES, 0): 6, TopicPartition(MATCHES, 1): 10}
    ]
    # While the batch is in hand its first unfinished record counts as lag: offset 4 before the
    # profile events ran, 6 once they were finished; after the batch, nothing.
    assert recorded.unfinished_during == [4, 6]
    assert recorded.group.unfinished_offset(PROFILES, 0) is None


async def test_batches_within_the_interval_are_committed_together_at_shutdown() -> None:
    recorded = Recorded(commit_interval=3600.0)

    await recorded.consume(Record(PROFILES, 0, 1))  # the first commit is due at once
    await recorded.consume(Record(PROFILES, 0, 2))
    await recorded.consume(Record(MATCHES, 1, 7))
    assert recorded.kafka.commits == [{TopicPartition(PROFILES, 0): 2}]

    assert await recorded.group.drain(grace_seconds=1.0) == 0

    assert recorded.kafka.commits == [
        {TopicPartition(PROFILES, 0): 2},
        {TopicPartition(PROFILES, 0): 3, TopicPartition(MATCHES, 1): 8},
    ]


async def test_owed_offsets_are_committed_when_the_interval_is_over() -> None:
    recorded = Recorded(commit_interval=0.05)

    await recorded.consume(Record(PROFILES, 0, 1))
    await recorded.consume(Record(PROFILES, 0, 2))
    assert len(recorded.kafka.commits) == 1

    recorded.kafka.committed.clear()
    async with asyncio.timeout(10):
        await recorded.kafka.committed.wait()  # by the timer
    assert recorded.kafka.commits[1] == {TopicPartition(PROFILES, 0): 3}
    await recorded.group.drain(grace_seconds=0)


async def test_a_commit_waits_for_the_batch_in_hand() -> None:
    recorded = Recorded(commit_interval=3600.0)
    await recorded.consume(Record(PROFILES, 0, 1))
    recorded.pause_in_batch = True

    batch = asyncio.create_task(recorded.consume(Record(PROFILES, 0, 2), Record(PROFILES, 0, 3)))
    for _ in range(3):  # the batch has finished its first record and waits before the second
        await asyncio.sleep(0)
    assert recorded.log[-1] == "profile-events@2"
    await recorded.group.commit()
    await batch
    await recorded.group.drain(grace_seconds=0)

    # The commit ran after the whole batch, with both of its records.
    assert recorded.log[-3:] == ["profile-events@2", "profile-events@3", "commit"]
    assert recorded.kafka.commits[-1] == {TopicPartition(PROFILES, 0): 4}


async def test_offsets_of_partitions_no_longer_assigned_are_not_committed() -> None:
    recorded = Recorded(commit_interval=3600.0)
    await recorded.consume(Record(PROFILES, 0, 1))
    await recorded.consume(Record(PROFILES, 0, 2), Record(MATCHES, 1, 5))
    recorded.kafka.assigned.discard(TopicPartition(MATCHES, 1))  # a rebalance took it

    await recorded.group.drain(grace_seconds=0)

    assert recorded.kafka.commits[-1] == {TopicPartition(PROFILES, 0): 3}


async def test_no_offset_is_committed_past_the_position_after_a_rewind() -> None:
    recorded = Recorded(commit_interval=3600.0)
    await recorded.consume(Record(PROFILES, 0, 1))
    await recorded.consume(Record(PROFILES, 0, 57))
    # The lag monitor found the log lost and sent the consumer back to its start.
    recorded.kafka.positions[TopicPartition(PROFILES, 0)] = 0

    await recorded.group.drain(grace_seconds=0)

    assert recorded.kafka.commits[-1] == {TopicPartition(PROFILES, 0): 0}


class BrokerLostItsLogs:
    """A read-records check that finds the records gone at its first asking."""

    def read(self, *_: object) -> None:
        pass

    async def check(self, kafka_consumer: object) -> str:
        return "lost"


async def test_after_a_loss_the_start_of_every_assigned_partition_is_committed() -> None:
    recorded = Recorded()
    recorded.group._read = BrokerLostItsLogs()  # type: ignore[assignment]

    await recorded.consume(Record(PROFILES, 0, 41))

    # Not 42 (an offset of the lost log), and the quiet partition too: an offset of the old log
    # the broker may hold for it would send a rejoining consumer past the new log's records.
    assert recorded.kafka.commits == [
        {TopicPartition(PROFILES, 0): 0, TopicPartition(MATCHES, 1): 0}
    ]


async def test_a_partition_read_again_from_its_start_has_that_start_committed() -> None:
    recorded = Recorded(commit_interval=3600.0)
    await recorded.consume(Record(PROFILES, 0, 1))

    recorded.group.read_again(recorded.kafka, TopicPartition(MATCHES, 1))
    await recorded.group.drain(grace_seconds=0)

    assert recorded.kafka.commits[-1] == {TopicPartition(MATCHES, 1): 0}


async def test_a_refused_commit_is_made_at_the_next_one() -> None:
    recorded = Recorded(commit_interval=3600.0)
    recorded.kafka.refuse = 1

    await recorded.consume(Record(PROFILES, 0, 1))  # refused
    await recorded.consume(Record(MATCHES, 1, 4))
    await recorded.group.drain(grace_seconds=0)

    assert recorded.kafka.commits == [
        {TopicPartition(PROFILES, 0): 2, TopicPartition(MATCHES, 1): 5}
    ]


async def test_records_taken_after_shutdown_began_are_neither_processed_nor_committed() -> None:
    recorded = Recorded()
    recorded.group.stop_accepting()

    await recorded.consume(Record(PROFILES, 0, 1))

    assert recorded.log == []
    assert recorded.kafka.commits == []


def test_routes_name_each_namespaced_topic_with_its_consumer() -> None:
    recorded = Recorded()
    assert recorded.group.routes == [(PROFILES, recorded.profiles), (MATCHES, recorded.matches)]
    assert recorded.group.consumer_of(PROFILE_EVENTS) is None  # not namespaced: not ours


def test_two_consumers_of_one_topic_are_refused() -> None:
    with pytest.raises(ValueError, match="both read"):
        ConsumerGroup(
            "svc", [EventConsumer("a", PROFILE_EVENTS), EventConsumer("b", PROFILE_EVENTS)]
        )

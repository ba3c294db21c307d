"""`ConsumerGroup`: one Kafka consumer for all of a service's topics. A batch of records from
several topics reaches each topic's consumer in order, and is committed once, after all."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.consumer_group import ConsumerGroup
from mentorship_shared.plumbing.inbox import Delivery

NAMESPACE = "t1."


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
    """What the read-records check asks of the aiokafka consumer before a commit."""

    def assignment(self) -> set[TopicPartition]:
        return set()


@dataclass
class FakeMessage:
    """A FastStream batch message: the records, the consumer, and the commit."""

    raw_message: tuple[Record, ...]
    consumer: FakeKafkaConsumer = field(default_factory=FakeKafkaConsumer)
    acks: int = 0
    log: list[str] | None = None

    async def ack(self) -> None:
        self.acks += 1
        if self.log is not None:
            self.log.append("commit")


class Recorded:
    """Two consumers whose `process_all` notes what it got (and finishes each record), with
    their group; `seen` records the unfinished offsets while the first one runs."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.profiles = EventConsumer("profile-events", PROFILE_EVENTS)
        self.matches = EventConsumer("match-events", MATCH_EVENTS)
        self.group = ConsumerGroup("svc", [self.profiles, self.matches], namespace=NAMESPACE)
        self.group.bind(uow=_NoUnitOfWork())  # type: ignore[arg-type]
        self.unfinished_during: list[int | None] = []
        for consumer in (self.profiles, self.matches):
            self._record(consumer)

    def _record(self, consumer: EventConsumer) -> None:
        async def process_all(deliveries: list[Delivery]) -> None:
            self.unfinished_during.append(
                self.group.unfinished_offset(f"{NAMESPACE}{PROFILE_EVENTS}", 0)
            )
            for delivery in deliveries:
                self.log.append(f"{consumer.name}@{delivery.offset}")
                consumer._finish("handled", delivery, "Test")

        consumer.process_all = process_all  # type: ignore[method-assign]


class _NoUnitOfWork:
    producer = "svc"


async def test_a_mixed_batch_goes_to_each_topics_consumer_in_order_and_commits_once() -> None:
    recorded = Recorded()
    profiles, matches = f"{NAMESPACE}{PROFILE_EVENTS}", f"{NAMESPACE}{MATCH_EVENTS}"
    message = FakeMessage(
        (Record(profiles, 0, 4), Record(matches, 1, 9), Record(profiles, 0, 5)),
        log=recorded.log,
    )

    await recorded.group.consume(message)  # type: ignore[arg-type]

    assert recorded.log == [
        "profile-events@4",
        "profile-events@5",
        "match-events@9",
        "commit",
    ]
    assert message.acks == 1
    # While the batch is in hand its first unfinished record counts as lag: offset 4 before the
    # profile events ran, 6 once they were finished; after the commit, nothing.
    assert recorded.unfinished_during == [4, 6]
    assert recorded.group.unfinished_offset(profiles, 0) is None


async def test_records_taken_after_shutdown_began_are_neither_processed_nor_committed() -> None:
    recorded = Recorded()
    recorded.group.stop_accepting()
    message = FakeMessage((Record(f"{NAMESPACE}{PROFILE_EVENTS}", 0, 1),))

    await recorded.group.consume(message)  # type: ignore[arg-type]

    assert recorded.log == []
    assert message.acks == 0


def test_routes_name_each_namespaced_topic_with_its_consumer() -> None:
    recorded = Recorded()
    assert recorded.group.routes == [
        (f"{NAMESPACE}{PROFILE_EVENTS}", recorded.profiles),
        (f"{NAMESPACE}{MATCH_EVENTS}", recorded.matches),
    ]
    assert recorded.group.consumer_of(PROFILE_EVENTS) is None  # not namespaced: not ours


def test_two_consumers_of_one_topic_are_refused() -> None:
    with pytest.raises(ValueError, match="both read"):
        ConsumerGroup(
            "svc", [EventConsumer("a", PROFILE_EVENTS), EventConsumer("b", PROFILE_EVENTS)]
        )

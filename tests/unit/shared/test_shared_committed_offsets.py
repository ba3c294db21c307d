"""`CommittedOffsets`: a consumer commits only when the broker still holds what it committed
before, on every assigned partition, and not while the broker cannot say."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from mentorship_shared.plumbing.broker_loss import CommittedOffsets

TOPIC = "profile.events"


@dataclass
class FakeKafkaConsumer:
    """What the check uses of an aiokafka consumer: its assignment, the broker's committed
    offsets (None once the broker lost them), and rewinding."""

    held: dict[int, int | None]
    unreachable: bool = False
    asked: list[int] = field(default_factory=list)
    rewound: list[TopicPartition] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.held}

    async def committed(self, partition: TopicPartition) -> int | None:
        self.asked.append(partition.partition)
        if self.unreachable:
            raise KafkaConnectionError("the broker is restarting")
        return self.held[partition.partition]

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.rewound.extend(partitions)


def committed_on(*partitions: int) -> CommittedOffsets:
    offsets = CommittedOffsets("c", check_every=3600)
    for partition in partitions:
        offsets.record(TOPIC, partition, 10)
    return offsets


async def test_offsets_the_broker_still_holds_let_the_commit_go_ahead() -> None:
    kafka = FakeKafkaConsumer(held={0: 10, 1: 12})
    assert await committed_on(0, 1).check(kafka, {(TOPIC, 0)}) == "commit"
    assert sorted(kafka.asked) == [0, 1]
    assert kafka.rewound == []


async def test_a_lost_offset_on_another_assigned_partition_rewinds_every_partition() -> None:
    # The batch is from partition 0, whose offset the broker still holds; partition 1's is gone.
    kafka = FakeKafkaConsumer(held={0: 10, 1: None, 2: 10})
    assert await committed_on(0, 1, 2).check(kafka, {(TOPIC, 0)}) == "lost"
    assert sorted(tp.partition for tp in kafka.rewound) == [0, 1, 2]


async def test_while_the_broker_cannot_answer_nothing_is_committed_and_it_is_asked_again() -> None:
    offsets = committed_on(0)
    kafka = FakeKafkaConsumer(held={0: None}, unreachable=True)
    assert await offsets.check(kafka, {(TOPIC, 0)}) == "unknown"
    # A failed check does not count as one: the very next commit asks again, and finds the loss.
    kafka.unreachable = False
    assert await offsets.check(kafka, {(TOPIC, 0)}) == "lost"
    assert kafka.asked == [0, 0]


async def test_after_an_answer_the_broker_is_not_asked_again_within_the_interval() -> None:
    offsets = committed_on(0)
    kafka = FakeKafkaConsumer(held={0: 10})
    assert await offsets.check(kafka, {(TOPIC, 0)}) == "commit"
    kafka.held[0] = None
    assert await offsets.check(kafka, {(TOPIC, 0)}) == "commit"  # within the hour: not asked
    assert kafka.asked == [0]

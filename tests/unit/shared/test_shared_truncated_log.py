"""A consumer whose partition log the broker lost reads it again from the start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.consumer_group import ConsumerGroup
from mentorship_shared.plumbing.liveness import LagMonitor


@dataclass
class FakeKafkaConsumer:
    """What the runtime reads from an aiokafka consumer: assignment, high watermark, position."""

    highwaters: dict[TopicPartition, int]
    positions: dict[TopicPartition, int]
    rewound: list[TopicPartition] = field(default_factory=list)
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.highwaters.get(partition)

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.rewound.extend(partitions)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(dict(offsets))


@dataclass
class FakeSubscriber:
    consumer: Any


async def test_a_partition_whose_log_ends_before_our_position_is_read_from_the_start() -> None:
    lost, fine = TopicPartition("profile.events", 0), TopicPartition("profile.events", 1)
    kafka = FakeKafkaConsumer(highwaters={lost: 3, fine: 40}, positions={lost: 17, fine: 25})
    group = ConsumerGroup("t", [EventConsumer("c", "profile.events")])
    monitor = LagMonitor("t", [(group, FakeSubscriber(kafka))], stall_seconds=60)  # type: ignore[list-item]

    lags = await monitor.read()
    await group.drain(grace_seconds=0)

    assert kafka.rewound == [lost]
    # The lost partition reports no lag until it has been read again; the other one does.
    assert lags == {"c": {("profile.events", 1): 15}}
    # Its start is committed: an offset of the lost log on the broker would send the group
    # past the new log's records when it next joins.
    assert kafka.committed == [{lost: 0}]

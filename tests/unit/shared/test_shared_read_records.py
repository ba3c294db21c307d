"""`ReadRecords`: a consumer commits only while the records it read are still where it read
them, on every partition it is assigned, and not while the broker cannot say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from mentorship_shared.plumbing.broker_loss import EXPIRED, GONE, ReadRecords, fingerprint

TOPIC = "profile.events"


@dataclass
class FakeLog:
    """A broker's log per partition (the values at each offset), and a consumer on it: what
    the check uses is its assignment and rewinding; `read_at` answers as `records_at` does."""

    values: dict[int, list[bytes]]
    start: dict[int, int] = field(default_factory=dict)
    unreachable: bool = False
    asked: list[dict[int, int]] = field(default_factory=list)
    rewound: list[TopicPartition] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.values}

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.rewound.extend(partitions)

    async def read_at(
        self, consumer: object, wanted: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        self.asked.append({tp.partition: offset for tp, offset in wanted.items()})
        if self.unreachable:
            raise KafkaConnectionError("the broker is restarting")
        found = {}
        for tp, offset in wanted.items():
            log = self.values[tp.partition]
            if offset < self.start.get(tp.partition, 0):
                found[tp] = EXPIRED
            elif offset >= len(log):
                found[tp] = GONE
            else:
                found[tp] = fingerprint(b"k", log[offset])
        return found


def old_log() -> FakeLog:
    return FakeLog(values={p: [f"p{p}-{o}".encode() for o in range(5)] for p in (0, 1)})


async def anchored(upto: int, check_every: float = 0) -> tuple[FakeLog, ReadRecords]:
    """Five records on each of two partitions, the first `upto` of each read, and one check
    made: the last ones read are the anchors the next check compares."""
    log = old_log()
    records = ReadRecords("c", check_every=check_every, read_at=log.read_at)
    for partition, values in log.values.items():
        for offset in range(upto):
            records.read(TOPIC, partition, offset, b"k", values[offset])
    assert await records.check(log) == "commit"  # no anchors yet: nothing to compare
    return log, records


async def test_records_still_where_they_were_read_let_the_commit_go_ahead() -> None:
    log, records = await anchored(upto=3)
    assert await records.check(log) == "commit"
    # The second check compared the last record read on each partition with the broker's.
    assert log.asked == [{0: 2, 1: 2}]
    assert log.rewound == []


async def test_a_replaced_record_rewinds_every_partition() -> None:
    log, records = await anchored(upto=3)
    # The broker lost its data; partition 1's new log already grew past the old position.
    log.values[1] = [f"new-{o}".encode() for o in range(6)]
    assert await records.check(log) == "lost"
    assert sorted(tp.partition for tp in log.rewound) == [0, 1]


async def test_a_log_that_now_ends_before_the_record_is_a_loss() -> None:
    log, records = await anchored(upto=4)
    log.values[0] = log.values[0][:2]
    assert await records.check(log) == "lost"


async def test_a_stale_commit_cannot_hide_the_loss() -> None:
    """What committed offsets could not see: the records read after the loss are from the new
    log, but the anchors were read before it, and they are gone."""
    log, records = await anchored(upto=3)
    log.values = {p: [f"new-{o}".encode() for o in range(6)] for p in (0, 1)}
    for offset in (3, 4):  # read from the old positions in the new log
        records.read(TOPIC, 0, offset, b"k", log.values[0][offset])
    assert await records.check(log) == "lost"


async def test_records_removed_by_retention_are_not_a_loss() -> None:
    log, records = await anchored(upto=2)
    log.start[0] = 3
    assert await records.check(log) == "commit"
    assert log.rewound == []


async def test_while_the_broker_cannot_answer_nothing_is_committed_and_it_is_asked_again() -> None:
    log, records = await anchored(upto=3)
    log.values[0] = []
    log.unreachable = True
    assert await records.check(log) == "unknown"
    # A failed check does not count as one: the very next commit asks again, and finds the loss.
    log.unreachable = False
    assert await records.check(log) == "lost"


async def test_after_an_answer_the_broker_is_not_asked_again_within_the_interval() -> None:
    log, records = await anchored(upto=3, check_every=3600)
    log.values[0] = []
    assert await records.check(log) == "commit"  # within the hour: not asked
    assert log.asked == []


async def test_partitions_no_longer_assigned_are_not_checked() -> None:
    log, records = await anchored(upto=3)
    del log.values[1]  # revoked: another instance reads it now
    assert await records.check(log) == "commit"
    assert log.asked[-1] == {0: 2}

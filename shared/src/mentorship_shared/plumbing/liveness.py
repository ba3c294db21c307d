"""Liveness of the consumers: a consumer that stops making progress while it has lag.

aiokafka can stop fetching after a broker restart without raising anything: the process looks
alive, `/readyz` may even say the broker answers, and nothing is consumed. `StallDetector`
notices it from two facts the process already has in memory:

* progress: each `EventConsumer` reports when it finishes a message (whatever the outcome) and
  when it retries one, so a handler that is waiting out a database outage counts as alive;
* lag: per assigned partition, the last known end of the partition minus the consumer's
  position, sampled by `LagMonitor` from the aiokafka consumer (what the lag gauge shows).

A partition is stalled when its lag has been above zero, and its consumer has made no progress,
for `stall_seconds` on end. `/healthz` then answers 503 naming the consumer and the partition,
so the orchestrator restarts the process. Lag alone is not a stall (a long backlog that moves
is healthy), and neither is silence without lag (nothing to do).

The detector is pure: it reads time from the clock it is given, so tests drive a fake one.
`LagMonitor` feeds it from the service's consumers and keeps the lag gauge of `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka.subscriber.usecase import BatchSubscriber

from . import metrics
from .broker_loss import restart_truncated_partition
from .consumer_group import ConsumerGroup
from .worker import cancel_and_wait

log = logging.getLogger(__name__)

#: A topic partition, as (topic, partition number).
TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class Stall:
    """One partition whose consumer has made no progress while it had lag."""

    consumer: str
    topic: str
    partition: int
    lag: int
    seconds_without_progress: float

    def describe(self) -> str:
        return (
            f"consumer {self.consumer} made no progress for "
            f"{self.seconds_without_progress:.0f} s while {self.topic}[{self.partition}] "
            f"has {self.lag} record(s) waiting"
        )


@dataclass
class _Lagging:
    lag: int
    since: float  # when the lag was first seen above zero, without a zero sample since


class StallDetector:
    """Tracks progress and lag per consumer; `stalls()` names the stalled partitions."""

    def __init__(
        self, stall_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if stall_seconds <= 0:
            raise ValueError("stall_seconds must be positive")
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._last_progress: dict[str, float] = {}
        self._lagging: dict[str, dict[TopicPartitionKey, _Lagging]] = {}

    def progressed(self, *consumers: str) -> None:
        """`consumers` finished or retried a message just now (the consumers of one group
        move together: a batch holds up all of its topics)."""
        now = self._clock()
        for consumer in consumers:
            self._last_progress[consumer] = now

    def observe(self, consumer: str, lags: Mapping[TopicPartitionKey, int]) -> None:
        """The lag of every partition assigned to `consumer` whose lag is known right now.

        Partitions left out (revoked, or their position not known yet) are forgotten: their
        clock starts again when they are next seen lagging."""
        now = self._clock()
        # A consumer first seen now has its quiet time counted from now, not from start-up.
        self._last_progress.setdefault(consumer, now)
        before = self._lagging.get(consumer, {})
        after: dict[TopicPartitionKey, _Lagging] = {}
        for key, lag in lags.items():
            if lag <= 0:
                continue
            previous = before.get(key)
            after[key] = _Lagging(lag, previous.since if previous is not None else now)
        self._lagging[consumer] = after

    def stalls(self) -> list[Stall]:
        """The partitions stalled now, sorted by consumer, topic and partition."""
        now = self._clock()
        found = []
        for consumer, partitions in sorted(self._lagging.items()):
            last_progress = self._last_progress.get(consumer, now)
            for (topic, partition), lagging in sorted(partitions.items()):
                # Waiting counts from the later of: the lag appearing, the last progress.
                quiet = now - max(lagging.since, last_progress)
                if quiet >= self.stall_seconds:
                    found.append(Stall(consumer, topic, partition, lagging.lag, quiet))
        return found


def sample_interval(stall_seconds: float) -> float:
    """How often the runtime samples lag: a tenth of the stall time, between 0.2 and 5 s, so a
    stall is reported at most about a tenth late."""
    return min(5.0, max(0.2, stall_seconds / 10))


class LagMonitor:
    """Samples the lag of a service's consumers into a `StallDetector` in the background, and
    sets the lag gauge when `/metrics` is scraped."""

    def __init__(
        self,
        service: str,
        subscriptions: Sequence[tuple[ConsumerGroup, BatchSubscriber]],
        *,
        stall_seconds: float,
    ) -> None:
        self._service = service
        self._subscriptions = subscriptions
        self._stall_seconds = stall_seconds
        self.detector = StallDetector(stall_seconds)
        self._task: asyncio.Task[None] | None = None
        self._lag_series: set[tuple[str, str, str, str]] = set()
        # group name -> end offsets the broker reported at the monitor's last asking.
        self._end_offsets: dict[str, dict[TopicPartitionKey, int]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._monitor(), name=f"{self._service}-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def read(
        self, *, end_offsets: Mapping[str, Mapping[TopicPartitionKey, int]] | None = None
    ) -> dict[str, dict[TopicPartitionKey, int]]:
        """Per consumer, high watermark minus position of every assigned partition (or the
        first unfinished record of the batch in hand, if earlier). Both are
        what the aiokafka consumer already knows from its last fetch: nothing is asked of the
        broker, and a partition whose position is not known yet is left out. `end_offsets`
        (what the broker said lately) count too where they are ahead of the high watermark."""
        lags: dict[str, dict[TopicPartitionKey, int]] = {}
        for group, subscriber in self._subscriptions:
            kafka_consumer: Any = subscriber.consumer
            if kafka_consumer is None:
                continue
            reported = (end_offsets or {}).get(group.name, {})
            found: dict[str, dict[TopicPartitionKey, int]] = {c.name: {} for c in group.consumers}
            try:
                for partition in kafka_consumer.assignment():
                    key = (partition.topic, partition.partition)
                    consumer = group.consumer_of(partition.topic)
                    highwater = kafka_consumer.highwater(partition)
                    ends = [highwater, reported.get(key)]
                    known = [end for end in ends if end is not None]
                    if consumer is None or not known:
                        continue
                    try:
                        async with asyncio.timeout(0.05):
                            position = await kafka_consumer.position(partition)
                    except TimeoutError:
                        continue
                    if highwater is not None and highwater < position:
                        await restart_truncated_partition(
                            kafka_consumer, partition, position, highwater
                        )
                        group.read_again(kafka_consumer, partition)
                        continue
                    # Records of the batch in hand count as lag until they are finished.
                    unfinished = group.unfinished_offset(*key)
                    if unfinished is not None:
                        position = min(position, unfinished)
                    found[consumer.name][key] = max(0, max(known) - position)
            except Exception as error:  # a rebalance in progress: the next reading has it
                log.debug("consumer lag of %s not read: %r", group.name, error)
            lags.update(found)
        return lags

    async def _ask_end_offsets(self) -> None:
        """Ask the broker for the end offset of every assigned partition (one ListOffsets
        request per consumer group): a fetcher that hangs stops updating the high watermark, so
        records that arrive afterwards would not show as lag otherwise."""
        for group, subscriber in self._subscriptions:
            kafka_consumer: Any = subscriber.consumer
            self._end_offsets.pop(group.name, None)  # an answer or nothing, never stale
            if kafka_consumer is None:
                continue
            try:
                assignment = list(kafka_consumer.assignment())
                if not assignment:
                    continue
                async with asyncio.timeout(5.0):
                    offsets = await kafka_consumer.end_offsets(assignment)
            except Exception as error:
                log.debug("end offsets of %s not read: %r", group.name, error)
                continue
            self._end_offsets[group.name] = {
                (partition.topic, partition.partition): offset
                for partition, offset in offsets.items()
            }

    async def _monitor(self) -> None:
        """Feed the stall detector: lag every `sample_interval`, end offsets from the broker
        every quarter of the stall time (at most every 30 s)."""
        # At least every second: a reading also notices a log the broker lost (see
        # `_restart_truncated_partition`), and the sooner, the fewer records pass our old position.
        interval = min(1.0, sample_interval(self._stall_seconds))
        ask_every = max(interval, min(30.0, self._stall_seconds / 4))
        next_ask = 0.0
        while True:
            try:
                if time.monotonic() >= next_ask:
                    await self._ask_end_offsets()
                    next_ask = time.monotonic() + ask_every
                lags = await self.read(end_offsets=self._end_offsets)
                for name, partitions in lags.items():
                    self.detector.observe(name, partitions)
            except Exception as error:
                log.warning("consumer liveness not sampled: %r", error)
            await asyncio.sleep(interval)

    def stalls(self) -> list[Stall]:
        return self.detector.stalls()

    async def refresh_gauge(self) -> None:
        """Set the lag gauge from what the aiokafka consumers know (see `read`)."""
        service = self._service
        current: dict[tuple[str, str, str, str], int] = {}
        for name, partitions in (await self.read()).items():
            for (topic, partition), lag in partitions.items():
                current[(service, name, topic, str(partition))] = lag
        for labels in self._lag_series - current.keys():
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(*labels)
        for labels, lag in current.items():
            metrics.CONSUMER_LAG.labels(*labels).set(lag)
        self._lag_series = set(current)

"""Liveness of the consumers: a consumer that stops making progress while it has lag.

aiokafka can stop fetching after a broker restart without raising anything: the process looks
alive, `/readyz` may even say the broker answers, and nothing is consumed. `StallDetector`
notices it from two facts the process already has in memory:

* progress: each `EventConsumer` reports when it finishes a message (whatever the outcome) and
  when it retries one, so a handler that is waiting out a database outage counts as alive;
* lag: per assigned partition, the last known end of the partition minus the consumer's
  position, sampled by `ServiceRuntime` from the aiokafka consumer (what the lag gauge shows).

A partition is stalled when its lag has been above zero, and its consumer has made no progress,
for `stall_seconds` on end. `/healthz` then answers 503 naming the consumer and the partition,
so the orchestrator restarts the process. Lag alone is not a stall (a long backlog that moves
is healthy), and neither is silence without lag (nothing to do).

The detector is pure: it reads time from the clock it is given, so tests drive a fake one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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

    def progressed(self, consumer: str) -> None:
        """`consumer` finished or retried a message just now."""
        self._last_progress[consumer] = self._clock()

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

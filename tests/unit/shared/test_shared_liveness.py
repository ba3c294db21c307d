"""The stall detector behind /healthz, driven by a fake clock, and the retry backoff."""

from __future__ import annotations

import pytest
from mentorship_shared.plumbing.liveness import StallDetector, sample_interval
from mentorship_shared.plumbing.retry import backoff_delay

TOPIC = "profile.events"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def detector(clock: FakeClock) -> StallDetector:
    return StallDetector(120, clock=clock)


def test_lag_without_progress_for_the_stall_time_is_a_stall_naming_consumer_and_partition(
    detector: StallDetector, clock: FakeClock
) -> None:
    detector.observe("matching", {(TOPIC, 3): 7, (TOPIC, 4): 0})
    clock.advance(119)
    detector.observe("matching", {(TOPIC, 3): 7, (TOPIC, 4): 0})
    assert detector.stalls() == []

    clock.advance(1)
    [stall] = detector.stalls()

    assert (stall.consumer, stall.topic, stall.partition, stall.lag) == ("matching", TOPIC, 3, 7)
    assert stall.seconds_without_progress == 120
    assert "matching" in stall.describe()
    assert f"{TOPIC}[3]" in stall.describe()


def test_progress_restarts_the_clock_even_while_lag_stays(
    detector: StallDetector, clock: FakeClock
) -> None:
    detector.observe("matching", {(TOPIC, 0): 500})
    for _ in range(10):  # a long backlog that moves: healthy for as long as it lasts
        clock.advance(100)
        detector.progressed("matching")
        detector.observe("matching", {(TOPIC, 0): 400})
        assert detector.stalls() == []
    clock.advance(120)
    assert [s.partition for s in detector.stalls()] == [0]


def test_progress_on_another_partition_counts_for_the_consumer(
    detector: StallDetector, clock: FakeClock
) -> None:
    # A consumer takes one record at a time: a partition may wait while another one drains.
    detector.observe("matching", {(TOPIC, 0): 5, (TOPIC, 1): 1000})
    clock.advance(100)
    detector.progressed("matching")
    clock.advance(100)
    assert detector.stalls() == []


def test_no_lag_is_never_a_stall_however_quiet(detector: StallDetector, clock: FakeClock) -> None:
    detector.observe("matching", {(TOPIC, 0): 0})
    clock.advance(10_000)
    detector.observe("matching", {(TOPIC, 0): 0})
    assert detector.stalls() == []


def test_the_clock_counts_from_when_the_lag_appeared_not_from_the_last_progress(
    detector: StallDetector, clock: FakeClock
) -> None:
    detector.progressed("matching")
    clock.advance(10_000)  # idle, nothing to do
    detector.observe("matching", {(TOPIC, 0): 1})
    clock.advance(60)
    assert detector.stalls() == []
    clock.advance(60)
    assert len(detector.stalls()) == 1


def test_lag_that_drops_to_zero_resets_and_a_revoked_partition_is_forgotten(
    detector: StallDetector, clock: FakeClock
) -> None:
    detector.observe("matching", {(TOPIC, 0): 3, (TOPIC, 1): 3})
    clock.advance(100)
    detector.observe("matching", {(TOPIC, 0): 0})  # 0 caught up, 1 revoked
    clock.advance(100)
    detector.observe("matching", {(TOPIC, 0): 2, (TOPIC, 1): 2})
    clock.advance(100)
    assert detector.stalls() == []  # both lagging for 100 s only
    clock.advance(20)
    assert [s.partition for s in detector.stalls()] == [0, 1]


def test_consumers_are_judged_separately(detector: StallDetector, clock: FakeClock) -> None:
    detector.observe("profiles", {(TOPIC, 0): 2})
    detector.observe("matches", {("match.events", 0): 2})
    clock.advance(130)
    detector.progressed("matches")
    assert [s.consumer for s in detector.stalls()] == ["profiles"]


def test_a_consumer_first_seen_late_is_not_stalled_by_its_start_up(
    detector: StallDetector, clock: FakeClock
) -> None:
    clock.advance(10_000)  # the process started long ago, the consumer joined just now
    detector.observe("matching", {(TOPIC, 0): 9})
    clock.advance(119)
    assert detector.stalls() == []


def test_the_stall_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StallDetector(0)


@pytest.mark.parametrize(
    ("stall_seconds", "interval"), [(120, 5.0), (30, 3.0), (1, 0.2), (0.5, 0.2), (10_000, 5.0)]
)
def test_lag_is_sampled_often_enough_for_the_stall_time(
    stall_seconds: float, interval: float
) -> None:
    assert sample_interval(stall_seconds) == interval


def test_backoff_doubles_per_failure_up_to_the_cap_with_jitter_around_it() -> None:
    def middle() -> float:
        return 0.5  # jitter factor 1.0

    delays = [backoff_delay(n, base=0.2, cap=10.0, rand=middle) for n in range(1, 10)]
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
    assert backoff_delay(3, base=0.2, cap=10.0, rand=lambda: 0.0) == pytest.approx(0.4)
    assert backoff_delay(3, base=0.2, cap=10.0, rand=lambda: 0.999) == pytest.approx(1.1992)
    assert backoff_delay(10_000, base=1.0, cap=30.0, rand=middle) == 30.0  # no overflow


def test_backoff_jitter_spreads_instances_that_failed_together() -> None:
    delays = {round(backoff_delay(4, base=0.2, cap=10.0), 6) for _ in range(50)}
    assert len(delays) > 40
    assert all(0.8 <= d < 2.4 for d in delays)

"""What a pipeline benchmark run does: the rates it steps through, how long each step lasts and
how much work each anchor does; the full plan `make bench` runs and the quick smoke plan."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    rates: tuple[float, ...] | None  # explicit rates, or start * factor^n up to max_rate
    start: float = 5.0
    factor: float = 2.0
    max_rate: float = 640.0
    duration: float = 60.0
    drain: float = 60.0
    hello_start: float = 50.0
    hello_max: float = 6400.0
    refine: int = 1
    anchor_duration: float = 20.0
    kafka_round_trips: int = 300
    kafka_burst: int = 5000
    pg_sequential: int = 1000
    pg_concurrent: int = 5000
    pg_connections: int = 10
    smtp_sequential: int = 300
    smtp_concurrent: int = 3000
    smtp_connections: int = 4  # the notification service's MAIL_SEND_CONCURRENCY
    profile: bool = False  # py-spy and statement statistics during each pipeline step

    def pipeline_rates(self) -> list[float]:
        if self.rates:
            return list(self.rates)
        return _rising(self.start, self.factor, self.max_rate)

    def hello_rates(self) -> list[float]:
        return _rising(self.hello_start, self.factor, self.hello_max)


def _rising(start: float, factor: float, top: float) -> list[float]:
    rates = [start]
    while rates[-1] * factor <= top * 1.0001:
        rates.append(rates[-1] * factor)
    return rates


QUICK = Plan(
    rates=(2.0, 4.0),
    duration=5.0,
    drain=30.0,
    hello_start=50.0,
    hello_max=100.0,
    anchor_duration=3.0,
    refine=0,
    kafka_round_trips=30,
    kafka_burst=500,
    pg_sequential=100,
    pg_concurrent=500,
    smtp_sequential=30,
    smtp_concurrent=200,
)
